import { randomBytes } from 'crypto';
import { connect } from 'nats';
import { Client } from 'pg';
import { benchDebits, benchDebitsMany } from './debits.bench';
import { benchPushLatency } from './push-latency.bench';
import { benchResources, ResourceFigures } from './resources.bench';
import { benchShards } from './shards.bench';
import { benchTransport } from './transport.bench';
import { BenchFigures, writeReport } from './report';
import os from 'os';

/**
 * `npm run bench`: every figure from one run on this machine, each as a ratio to a baseline
 * measured in the same run (the machines are shared and noisy; ratios travel, absolutes don't).
 * BENCH_ONLY=debits, push or resources runs one part; BENCH_ONLY=debits-many only the echo and
 * the engine with 1,000 organizations, with CPU per request, and writes no report;
 * BENCH_ONLY=floor the same in both load shapes with the durable floor beside them (no report);
 * BENCH_ONLY=transport a raw NATS subscription against NestJS's way (NatsJsonTransport), alternated (no report);
 * BENCH_ONLY=shards the engine on one shard, then on two PostgreSQL servers the bench starts, debits/s per
 * shard and CPU per debit per process beside the one-shard run's (BENCH_SHARD_ROUNDS rounds; no report).
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
  const env = { NATS_URL, DATABASE_URL: dbUrl.toString(), EVENTS_STREAM: `BENCH_${tag}`, OWNERS_BUCKET: `BENCH_${tag}_OWNERS`, LIFECYCLE_STREAM: `BENCH_${tag}_LIFECYCLE`, LIFECYCLE_SUBJECT_PREFIX: `bl${tag}.lifecycle` };
  const ncs = await Promise.all(Array.from({ length: CONNECTIONS }, () => connect({ servers: NATS_URL, name: 'bench-load', noAsyncTraces: true })));
  const figures: { -readonly [K in keyof BenchFigures]: BenchFigures[K] } = { resources: [] as ResourceFigures[] };
  try {
    if (only === 'transport') {
      await benchTransport(ncs, env, tag);
      return;
    }
    if (only === 'shards') {
      await benchShards(ncs, env, tag);
      return;
    }
    if (only === 'debits-many' || only === 'floor') {
      await benchDebitsMany(ncs, env, tag, only === 'floor');
      return;
    }
    if (!only || only === 'debits') figures.debits = await benchDebits(ncs, env, tag, (setting) => admin.query(`alter database "${dbName}" set ${setting}`).then(() => undefined));
    if (!only || only === 'push') {
      process.stdout.write(`\nbalance pushes to browsers (socket.io through the gateway)\n`);
      figures.push = await benchPushLatency(ncs, env, tag);
    }
    if (!only || only === 'resources') {
      process.stdout.write(`\nrunning resources billed by one engine at TICK_INTERVAL_MS=60000\n`);
      for (const count of (process.env.BENCH_RESOURCES ?? '10000,100000').split(',').map(Number)) {
        // Each size on a database of its own: resources of an earlier size would be billed too.
        const name = `${dbName}_r${count}`;
        await admin.query(`create database "${name}"`);
        const url = new URL(dbUrl.toString());
        url.pathname = `/${name}`;
        try {
          figures.resources.push(await benchResources(ncs[0], { ...env, DATABASE_URL: url.toString() }, url.toString(), count));
        } finally {
          await admin.query(`drop database if exists "${name}" with (force)`);
        }
      }
    }
    if (!only) figures.shards = await benchShards(ncs, env, tag);
    const report = writeReport(figures, `${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
    process.stdout.write(`\nreport written to ${report}\n`);
  } finally {
    const jsm = await ncs[0].jetstreamManager();
    for (const s of [env.EVENTS_STREAM, env.LIFECYCLE_STREAM, `KV_${env.OWNERS_BUCKET}`]) await jsm.streams.delete(s).catch(() => undefined);
    await Promise.all(ncs.map((nc) => nc.close()));
    await admin.query(`drop database if exists "${dbName}" with (force)`);
    await admin.end();
  }
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
