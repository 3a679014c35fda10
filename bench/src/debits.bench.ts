import { randomBytes } from 'crypto';
import { headers, MsgHdrs, NatsConnection } from 'nats';
import { OPERATOR_HEADER } from '@billing/contracts';
import { cpuPerRequest, cpuSample } from './cpu';
import { closedLoop, LoadResult } from './load';
import { profileEngine, start, Started, stop, waitForBalance } from './processes';

const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 8) * 1000;
const WARMUP_MS = 1500;
export const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 512);
const ORGS = 1000;

const debitBody = (key: string) => Buffer.from(JSON.stringify({ idempotencyKey: key, amount: '0.00069444', service: 'gpu-container', workspaceId: 'ws-1', resourceId: 'r-1' }));

/** Top-ups are an operator's, named on each (the engine audits them). */
export function benchOperator(): MsgHdrs {
  const h = headers();
  h.set(OPERATOR_HEADER, 'bench');
  return h;
}

async function seed(nc: NatsConnection, prefix: string, orgs: string[]): Promise<void> {
  for (let i = 0; i < orgs.length; i += 200) {
    await Promise.all(
      orgs.slice(i, i + 200).map(async (org) => {
        const r = await nc.request(`${prefix}.wallet.${org}.topup`, Buffer.from(JSON.stringify({ idempotencyKey: 'seed', amount: '1000000.00', currency: 'USD', provider: 'stripe', reference: `pi_${org}` })), { timeout: 30_000, headers: benchOperator() });
        if (!Buffer.from(r.data).toString().startsWith('{"ok":true')) throw new Error(`seeding ${org}: ${Buffer.from(r.data).toString()}`);
      }),
    );
  }
}

/**
 * With `server`, the CPU each process spent per request is printed too; with `profiled` (the
 * engine) and BENCH_PROFILE, the server's CPU profile of the measured window is written.
 */
async function measure(label: string, ncs: NatsConnection[], prefix: string, orgs: string[], server?: Started, profiled = false): Promise<LoadResult> {
  const run = randomBytes(3).toString('hex');
  const request = (tag: string) => (n: number) => ({ subject: `${prefix}.wallet.${orgs[n % orgs.length]}.debit`, body: debitBody(`${tag}-${run}-${n}`) });
  await closedLoop(ncs, request('warm'), CONCURRENCY, WARMUP_MS);
  const profile = server && profiled && process.env.BENCH_PROFILE ? await profileEngine(server) : null;
  const before = server?.pid ? cpuSample(server.pid) : null;
  const result = await closedLoop(ncs, request('run'), CONCURRENCY, DURATION_MS);
  const cpu = before && server?.pid ? `\n    CPU per request: ${cpuPerRequest(before, cpuSample(server.pid), result.completed)}` : '';
  if (profile) process.stdout.write(`    profile: ${await profile()}\n`);
  process.stdout.write(`  ${label.padEnd(44)} ${result.perSecond.toFixed(0).padStart(8)} /s  (${result.completed} ok, ${result.failed} failed${result.firstError ? `: ${result.firstError}` : ''})${cpu}\n`);
  return result;
}

export interface ManyOrgFigures {
  readonly echo: LoadResult;
  readonly engineMany: LoadResult;
}

/**
 * BENCH_ONLY=debits-many: only the echo and the engine with 1,000 organizations, with the CPU
 * each process spends per request; for measuring a change quickly (no report is written).
 */
export async function benchDebitsMany(ncs: NatsConnection[], env: Record<string, string>, tag: string): Promise<ManyOrgFigures> {
  const prefix = { echo: `be${tag}`, engine: `bx${tag}` };
  const many = Array.from({ length: ORGS }, (_, i) => `org-${i}`);
  process.stdout.write(`\nwallet debits, ${CONCURRENCY} requests in flight over ${ncs.length} NATS connections, ${DURATION_MS / 1000} s each\n`);
  const echoServer = await start('bench/src/echo-server.js', { ...env, SUBJECT_PREFIX: prefix.echo });
  let echo: LoadResult;
  try {
    echo = await measure('NATS request/reply echo (trivial responder)', ncs, prefix.echo, [`hot-${tag}`], echoServer);
  } finally {
    await stop(echoServer);
  }
  const engine = await start('bench/src/engine-server.js', { ...env, SUBJECT_PREFIX: prefix.engine, DB_POOL_MAX: '10' });
  let engineMany: LoadResult;
  try {
    await waitForBalance(ncs[0], prefix.engine);
    await seed(ncs[0], prefix.engine, many);
    engineMany = await measure(`engine, ${ORGS} organizations`, ncs, prefix.engine, many, engine, true);
  } finally {
    await stop(engine);
  }
  process.stdout.write(`\n  engine ${ORGS} orgs / echo     ${((100 * engineMany.perSecond) / echo.perSecond).toFixed(1).padStart(6)}%   [>= 50%]\n`);
  return { echo, engineMany };
}

export interface DebitFigures {
  readonly echo: LoadResult;
  readonly engineHot: LoadResult;
  readonly engineMany: LoadResult;
  readonly baseHot: LoadResult;
  readonly baseMany: LoadResult;
  /** The crash-safety costs: the same 1,000-organization load without events, and without synchronous commit. */
  readonly engineManyNoEvents: LoadResult;
  readonly engineManyAsyncCommit: LoadResult;
}

/**
 * Debits per second: the raw NATS echo of a trivial responder, the engine (one hot
 * organization, 1,000 organizations) and the one-transaction-per-debit baseline, same load.
 */
export async function benchDebits(ncs: NatsConnection[], env: Record<string, string>, tag: string, setDatabase: (setting: string) => Promise<void>): Promise<DebitFigures> {
  const prefix = { echo: `be${tag}`, engine: `bx${tag}`, base: `bb${tag}` };
  const hot = [`hot-${tag}`];
  const many = Array.from({ length: ORGS }, (_, i) => `org-${i}`);
  process.stdout.write(`\nwallet debits, ${CONCURRENCY} requests in flight over ${ncs.length} NATS connections, ${DURATION_MS / 1000} s each\n`);

  const echoServer = await start('bench/src/echo-server.js', { ...env, SUBJECT_PREFIX: prefix.echo });
  const echo = await measure('NATS request/reply echo (trivial responder)', ncs, prefix.echo, hot);
  await stop(echoServer);

  const engine = await start('bench/src/engine-server.js', { ...env, SUBJECT_PREFIX: prefix.engine, DB_POOL_MAX: '10' });
  let engineHot: LoadResult;
  let engineMany: LoadResult;
  try {
    await waitForBalance(ncs[0], prefix.engine);
    await seed(ncs[0], prefix.engine, [...hot, ...many]);
    // The baseline's wallets are seeded through the engine too: same rows, same starting balance.
    await seed(ncs[0], prefix.engine, [`base-${hot[0]}`, ...many.map((o) => `base-${o}`)]);
    engineHot = await measure('engine, one hot organization', ncs, prefix.engine, hot);
    engineMany = await measure(`engine, ${ORGS} organizations`, ncs, prefix.engine, many);
  } finally {
    await stop(engine);
  }

  // What the crash safety costs: no outbox events at all (nothing would reach browsers or alerts),
  // then no waiting for the WAL flush at commit (a crash may lose the last acknowledged commits).
  let engineManyNoEvents: LoadResult;
  let engineManyAsyncCommit: LoadResult;
  const noEvents = await start('bench/src/engine-server.js', { ...env, SUBJECT_PREFIX: prefix.engine, DB_POOL_MAX: '10', BENCH_UNSAFE_NO_EVENTS: '1' });
  try {
    await waitForBalance(ncs[0], prefix.engine);
    engineManyNoEvents = await measure(`engine, ${ORGS} orgs, WITHOUT events (unsafe)`, ncs, prefix.engine, many);
  } finally {
    await stop(noEvents);
  }
  await setDatabase('synchronous_commit = off');
  const asyncCommit = await start('bench/src/engine-server.js', { ...env, SUBJECT_PREFIX: prefix.engine, DB_POOL_MAX: '10' });
  try {
    await waitForBalance(ncs[0], prefix.engine);
    engineManyAsyncCommit = await measure(`engine, ${ORGS} orgs, synchronous_commit=off`, ncs, prefix.engine, many);
  } finally {
    await stop(asyncCommit);
    await setDatabase('synchronous_commit = on');
  }

  const baseline = await start('bench/src/baseline-server.js', { ...env, SUBJECT_PREFIX: prefix.base, DB_POOL_MAX: '10' });
  let baseHot: LoadResult;
  let baseMany: LoadResult;
  try {
    baseHot = await measure('baseline (tx + FOR UPDATE), one hot org', ncs, prefix.base, [`base-${hot[0]}`]);
    baseMany = await measure(`baseline (tx + FOR UPDATE), ${ORGS} orgs`, ncs, prefix.base, many.map((o) => `base-${o}`));
  } finally {
    await stop(baseline);
  }

  const pct = (a: LoadResult, b: LoadResult) => `${((100 * a.perSecond) / b.perSecond).toFixed(1)}%`;
  const x = (a: LoadResult, b: LoadResult) => `${(a.perSecond / b.perSecond).toFixed(1)}x`;
  process.stdout.write(`\n  ratios (target in brackets)\n`);
  process.stdout.write(`  engine ${ORGS} orgs / echo     ${pct(engineMany, echo).padStart(7)}   [>= 50%]\n`);
  process.stdout.write(`  engine hot org / echo       ${pct(engineHot, echo).padStart(7)}   [>= 30%]\n`);
  process.stdout.write(`  engine hot / baseline hot   ${x(engineHot, baseHot).padStart(7)}   [>= 5x]\n`);
  process.stdout.write(`  engine ${ORGS} / baseline ${ORGS}   ${x(engineMany, baseMany).padStart(7)}\n`);
  process.stdout.write(`  baseline hot / echo         ${pct(baseHot, echo).padStart(7)}\n`);
  process.stdout.write(`  engine 1000 with events / without   ${pct(engineMany, engineManyNoEvents).padStart(7)}\n`);
  process.stdout.write(`  engine 1000 sync commit / async     ${pct(engineMany, engineManyAsyncCommit).padStart(7)}\n`);
  return { echo, engineHot, engineMany, baseHot, baseMany, engineManyNoEvents, engineManyAsyncCommit };
}
