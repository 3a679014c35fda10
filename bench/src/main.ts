import { randomBytes } from 'crypto';
import { connect } from 'nats';
import { Client } from 'pg';
import { benchDebits } from './debits.bench';
import { benchPushLatency } from './push-latency.bench';
import { benchResources } from './resources.bench';

/**
 * `npm run bench`: every figure from one run on this machine, each as a ratio to a baseline
 * measured in the same run (the machines are shared and noisy; ratios travel, absolutes don't).
 * BENCH_ONLY=debits, push or resources runs one part.
 */
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const ADMIN_URL = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const CONNECTIONS = 4;
const only = process.env.BENCH_ONLY;

async function main(): Promise<void> {
  const tag = randomBytes(3).toString('hex');
  const dbName = `billing_bench_${tag}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database "${dbName}"`);
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${dbName}`;
  const env = { NATS_URL, DATABASE_URL: dbUrl.toString(), EVENTS_STREAM: `BENCH_${tag}`, LIFECYCLE_STREAM: `BENCH_${tag}_LIFECYCLE`, LIFECYCLE_SUBJECT_PREFIX: `bl${tag}.lifecycle` };
  const ncs = await Promise.all(Array.from({ length: CONNECTIONS }, () => connect({ servers: NATS_URL, name: 'bench-load', noAsyncTraces: true })));
  try {
    if (!only || only === 'debits') await benchDebits(ncs, env, tag);
    if (!only || only === 'push') {
      process.stdout.write(`\nbalance pushes to browsers (socket.io through the gateway)\n`);
      await benchPushLatency(ncs, env, tag);
    }
    if (!only || only === 'resources') {
      process.stdout.write(`\nrunning resources billed by one engine at TICK_INTERVAL_MS=60000\n`);
      for (const count of (process.env.BENCH_RESOURCES ?? '10000,100000').split(',').map(Number)) {
        await benchResources(ncs[0], env, dbUrl.toString(), count);
      }
    }
    process.stdout.write('\n');
  } finally {
    const jsm = await ncs[0].jetstreamManager();
    for (const s of [env.EVENTS_STREAM, env.LIFECYCLE_STREAM]) await jsm.streams.delete(s).catch(() => undefined);
    await Promise.all(ncs.map((nc) => nc.close()));
    await admin.query(`drop database if exists "${dbName}" with (force)`);
    await admin.end();
  }
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
