import { ChildProcess, fork } from 'child_process';
import { randomBytes } from 'crypto';
import path from 'path';
import { connect, NatsConnection } from 'nats';
import { Client } from 'pg';
import { closedLoop, LoadResult } from './load';

/**
 * `npm run bench`: every figure from one run on this machine, each as a ratio to a baseline
 * measured in the same run (the machines are shared and noisy; ratios travel, absolutes don't).
 */
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const ADMIN_URL = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 8) * 1000;
const WARMUP_MS = 1500;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 512);
const CONNECTIONS = 4;
const ORGS = 1000;

const dist = path.join(__dirname, '..', '..');
const register = path.join(dist, '..', 'scripts', 'register-paths.js');

// eslint-disable-next-line @typescript-eslint/no-require-imports
const engineFlags: string[] = require(path.join(dist, '..', 'scripts', 'engine-node-flags.js'));

/** Every server runs with the engine's Node flags, so the comparison is between code, not settings. */
function start(script: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = fork(path.join(dist, script), [], { env: { ...process.env, ...env }, execArgv: [...engineFlags, '-r', register], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function waitForBalance(nc: NatsConnection, prefix: string): Promise<void> {
  for (let i = 0; i < 240; i++) {
    try {
      const r = await nc.request(`${prefix}.wallet.ready.balance`, Buffer.from(''), { timeout: 500 });
      if (Buffer.from(r.data).toString().startsWith('{"ok":true')) return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error('engine did not become ready');
}

const debitBody = (key: string) => Buffer.from(JSON.stringify({ idempotencyKey: key, amount: '0.00069444', service: 'gpu-container', workspaceId: 'ws-1', resourceId: 'r-1' }));

async function seed(nc: NatsConnection, prefix: string, orgs: string[]): Promise<void> {
  for (let i = 0; i < orgs.length; i += 200) {
    await Promise.all(
      orgs.slice(i, i + 200).map(async (org) => {
        const r = await nc.request(`${prefix}.wallet.${org}.topup`, Buffer.from(JSON.stringify({ idempotencyKey: 'seed', amount: '1000000.00', currency: 'USD', provider: 'stripe', reference: `pi_${org}` })), { timeout: 30_000 });
        if (!Buffer.from(r.data).toString().startsWith('{"ok":true')) throw new Error(`seeding ${org}: ${Buffer.from(r.data).toString()}`);
      }),
    );
  }
}

async function measure(label: string, ncs: NatsConnection[], prefix: string, orgs: string[]): Promise<LoadResult> {
  const run = randomBytes(3).toString('hex');
  const request = (tag: string) => (n: number) => ({ subject: `${prefix}.wallet.${orgs[n % orgs.length]}.debit`, body: debitBody(`${tag}-${run}-${n}`) });
  await closedLoop(ncs, request('warm'), CONCURRENCY, WARMUP_MS);
  const result = await closedLoop(ncs, request('run'), CONCURRENCY, DURATION_MS);
  process.stdout.write(`  ${label.padEnd(44)} ${result.perSecond.toFixed(0).padStart(8)} /s  (${result.completed} ok, ${result.failed} failed${result.firstError ? `: ${result.firstError}` : ''})\n`);
  return result;
}

async function main(): Promise<void> {
  const tag = randomBytes(3).toString('hex');
  const dbName = `billing_bench_${tag}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database "${dbName}"`);
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${dbName}`;
  const common = { NATS_URL, DATABASE_URL: dbUrl.toString() };
  const prefix = { echo: `be${tag}`, engine: `bx${tag}`, base: `bb${tag}` };
  const stream = `BENCH_${tag}`;
  const ncs = await Promise.all(Array.from({ length: CONNECTIONS }, () => connect({ servers: NATS_URL, name: 'bench-load' })));
  const children: ChildProcess[] = [];
  const figures: Record<string, LoadResult> = {};
  const hot = [`hot-${tag}`];
  const many = Array.from({ length: ORGS }, (_, i) => `org-${i}`);
  try {
    process.stdout.write(`\nwallet debits, ${CONCURRENCY} requests in flight over ${CONNECTIONS} NATS connections, ${DURATION_MS / 1000} s each\n`);
    const echo = await start('bench/src/echo-server.js', { ...common, SUBJECT_PREFIX: prefix.echo });
    children.push(echo);
    figures.echo = await measure('NATS request/reply echo (trivial responder)', ncs, prefix.echo, hot);
    await stop(echo);

    const engine = await start('bench/src/engine-server.js', { ...common, SUBJECT_PREFIX: prefix.engine, EVENTS_STREAM: stream, DB_POOL_MAX: '10' });
    children.push(engine);
    await waitForBalance(ncs[0], prefix.engine);
    await seed(ncs[0], prefix.engine, [...hot, ...many]);
    // Seed the baseline's wallets through the engine too: same rows, same starting balance.
    await seed(ncs[0], prefix.engine, [`base-${hot[0]}`, ...many.map((o) => `base-${o}`)]);
    figures.engineHot = await measure('engine, one hot organization', ncs, prefix.engine, hot);
    figures.engineMany = await measure(`engine, ${ORGS} organizations`, ncs, prefix.engine, many);
    await stop(engine);

    const baseline = await start('bench/src/baseline-server.js', { ...common, SUBJECT_PREFIX: prefix.base, DB_POOL_MAX: '10' });
    children.push(baseline);
    figures.baseHot = await measure('baseline (tx + FOR UPDATE), one hot org', ncs, prefix.base, [`base-${hot[0]}`]);
    figures.baseMany = await measure(`baseline (tx + FOR UPDATE), ${ORGS} orgs`, ncs, prefix.base, many.map((o) => `base-${o}`));
    await stop(baseline);

    const pct = (a: LoadResult, b: LoadResult) => `${((100 * a.perSecond) / b.perSecond).toFixed(1)}%`;
    const x = (a: LoadResult, b: LoadResult) => `${(a.perSecond / b.perSecond).toFixed(1)}x`;
    process.stdout.write(`\nratios (target in brackets)\n`);
    process.stdout.write(`  engine ${ORGS} orgs / echo     ${pct(figures.engineMany, figures.echo).padStart(7)}   [>= 50%]\n`);
    process.stdout.write(`  engine hot org / echo       ${pct(figures.engineHot, figures.echo).padStart(7)}   [>= 30%]\n`);
    process.stdout.write(`  engine hot / baseline hot   ${x(figures.engineHot, figures.baseHot).padStart(7)}   [>= 5x]\n`);
    process.stdout.write(`  engine ${ORGS} / baseline ${ORGS}   ${x(figures.engineMany, figures.baseMany).padStart(7)}\n`);
    process.stdout.write(`  baseline hot / echo         ${pct(figures.baseHot, figures.echo).padStart(7)}\n\n`);
  } finally {
    await Promise.all(children.map(stop));
    const jsm = await ncs[0].jetstreamManager();
    await jsm.streams.delete(stream).catch(() => undefined);
    await Promise.all(ncs.map((nc) => nc.close()));
    await admin.query(`drop database if exists "${dbName}" with (force)`);
    await admin.end();
  }
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
