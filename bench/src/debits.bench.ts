import { randomBytes } from 'crypto';
import { headers, MsgHdrs, NatsConnection } from 'nats';
import { OPERATOR_HEADER } from '@billing/contracts';
import { CpuPerRequest, cpuPerRequest, cpuSample, CpuScope, cpuScope, cpuTotal, formatCpu } from './cpu';
import { closedLoop, describeShape, LoadResult, LoadShape } from './load';
import { commitsSoFar, profileEngine, start, Started, stop, waitForBalance } from './processes';

const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 8) * 1000;
const WARMUP_MS = 1500;
export const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 512);
export const ORGS = 1000;

/** Today's shape: many requests in flight over the load generator's 4 connections. */
export const SPREAD: LoadShape = { connections: 4, inFlight: CONCURRENCY };
/** A single busy client: 256 requests in flight on one connection (issue 14). */
const ONE_CONNECTION: LoadShape = { connections: 1, inFlight: 256 };
export const SHAPES: readonly LoadShape[] = [SPREAD, ONE_CONNECTION];

const debitBody = (key: string) => Buffer.from(JSON.stringify({ idempotencyKey: key, amount: '0.00069444', service: 'gpu-container', workspaceId: 'ws-1', resourceId: 'r-1' }));

/** Top-ups are an operator's, named on each (the engine audits them). */
export function benchOperator(): MsgHdrs {
  const h = headers();
  h.set(OPERATOR_HEADER, 'bench');
  return h;
}

export async function seed(nc: NatsConnection, prefix: string, orgs: string[]): Promise<void> {
  for (let i = 0; i < orgs.length; i += 200) {
    await Promise.all(
      orgs.slice(i, i + 200).map(async (org) => {
        const r = await nc.request(`${prefix}.wallet.${org}.topup`, Buffer.from(JSON.stringify({ idempotencyKey: 'seed', amount: '1000000.00', currency: 'USD', provider: 'stripe', reference: `pi_${org}` })), { timeout: 30_000, headers: benchOperator() });
        if (!Buffer.from(r.data).toString().startsWith('{"ok":true')) throw new Error(`seeding ${org}: ${Buffer.from(r.data).toString()}`);
      }),
    );
  }
}

/** A load result, with the CPU each process spent per request when the server under test was given. */
export interface Measured extends LoadResult {
  readonly cpu: CpuPerRequest | null;
  /** Debits per group commit (the engine and the floor), to see that both batch alike. */
  readonly perCommit: number | null;
  /** Each of `Watched.counters`, per second of the measured window (e.g. debits committed per shard). */
  readonly counted: Readonly<Record<string, number>> | null;
}

/** The children's settings: the bench's own database, streams and NATS. */
export type BenchEnv = Record<string, string> & { readonly DATABASE_URL: string; readonly NATS_URL: string };

/** What to measure of the server under test besides its throughput. */
interface Watched {
  readonly child: Started;
  /** The bench's own PostgreSQL and NATS processes, whose CPU is counted with the server's. */
  readonly scope: CpuScope;
  /** Debits per group commit (engine-server and floor-server count their commits). */
  readonly commits?: boolean;
  /** The server's CPU profile of the measured window, with BENCH_PROFILE (engine-server). */
  readonly profiled?: boolean;
  /** Counts read just before and just after the measured window (debit rows in each shard, say). */
  readonly counters?: Readonly<Record<string, () => Promise<number>>>;
}

const readCounters = async (counters: Readonly<Record<string, () => Promise<number>>>) => Object.fromEntries(await Promise.all(Object.entries(counters).map(async ([name, count]) => [name, await count()] as const)));

/**
 * Closed-loop load of `shape` on `ncs`' first connections. With `watched`, the CPU each process
 * spent per request is measured too, and what `watched` asks for.
 */
export async function measure(label: string, ncs: NatsConnection[], shape: LoadShape, prefix: string, orgs: string[], watched?: Watched): Promise<Measured> {
  if (ncs.length < shape.connections) throw new Error(`load shape ${describeShape(shape)} needs ${shape.connections} connections, the bench has ${ncs.length}`);
  const connections = ncs.slice(0, shape.connections);
  const run = randomBytes(3).toString('hex');
  const request = (tag: string) => (n: number) => ({ subject: `${prefix}.wallet.${orgs[n % orgs.length]}.debit`, body: debitBody(`${tag}-${run}-${n}`) });
  await closedLoop(connections, request('warm'), shape.inFlight, WARMUP_MS);
  const server = watched?.child;
  const profile = server && watched?.profiled && process.env.BENCH_PROFILE ? await profileEngine(server) : null;
  const commitsBefore = server && watched?.commits ? await commitsSoFar(server) : null;
  const pid = server?.pid;
  const countedBefore = watched?.counters ? await readCounters(watched.counters) : null;
  const before = watched && pid ? cpuSample(pid, watched.scope) : null;
  const result = await closedLoop(connections, request('run'), shape.inFlight, DURATION_MS);
  const cpu = watched && pid && before ? cpuPerRequest(before, cpuSample(pid, watched.scope), result.completed) : null;
  // Rows committed by the last requests of the window are in; none of the next window's yet.
  const countedAfter = watched?.counters && countedBefore ? await readCounters(watched.counters) : null;
  const counted = countedBefore && countedAfter ? Object.fromEntries(Object.keys(countedAfter).map((name) => [name, (countedAfter[name] - countedBefore[name]) / result.seconds])) : null;
  const perCommit = server && commitsBefore !== null ? result.completed / Math.max(1, (await commitsSoFar(server)) - commitsBefore) : null;
  if (profile) process.stdout.write(`    profile: ${await profile()}\n`);
  const shown = shape === SPREAD ? label : `${label} [${describeShape(shape)}]`;
  const details = [
    cpu ? `CPU per request: ${formatCpu(cpu)}` : '',
    perCommit !== null ? `${perCommit.toFixed(1)} debits per group commit` : '',
    counted ? Object.entries(counted).map(([name, v]) => `${name} ${v.toFixed(0)}/s`).join(', ') : '',
  ]
    .filter(Boolean)
    .join('; ');
  process.stdout.write(`  ${shown.padEnd(80)} ${result.perSecond.toFixed(0).padStart(8)} /s  (${result.completed} ok, ${result.failed} failed${result.firstError ? `: ${result.firstError}` : ''})${details ? `\n    ${details}` : ''}\n`);
  return { ...result, cpu, perCommit, counted };
}

/** Starts `script`, runs `body` against it, and stops it whatever happens. */
export async function withServer<T>(script: string, env: Record<string, string>, body: (server: Started) => Promise<T>): Promise<T> {
  const server = await start(script, env);
  try {
    return await body(server);
  } finally {
    await stop(server);
  }
}

export async function eachShape(shapes: readonly LoadShape[], run: (shape: LoadShape) => Promise<Measured>): Promise<Measured[]> {
  const results: Measured[] = [];
  for (const shape of shapes) results.push(await run(shape));
  return results;
}

/** One load shape at 1,000 organizations: the engine beside the echo and the durable floor of the same run. */
export interface ShapeComparison {
  readonly shape: LoadShape;
  readonly echo: Measured;
  readonly floor: Measured | null;
  readonly engine: Measured;
}

const ratio = (a: LoadResult, b: LoadResult) => (a.perSecond / b.perSecond).toFixed(2);

function printComparisons(comparisons: readonly ShapeComparison[]): void {
  for (const c of comparisons) {
    process.stdout.write(`\n  ${ORGS} organizations, ${describeShape(c.shape)}\n`);
    process.stdout.write(`    engine / echo   ${ratio(c.engine, c.echo).padStart(6)}   [>= 0.50]\n`);
    if (c.floor) {
      process.stdout.write(`    engine / floor  ${ratio(c.engine, c.floor).padStart(6)}   [>= 0.50]\n`);
      process.stdout.write(`    floor / echo    ${ratio(c.floor, c.echo).padStart(6)}\n`);
    }
    const rows: [string, Measured | null][] = [['echo', c.echo], ['floor', c.floor], ['engine', c.engine]];
    for (const [name, m] of rows) if (m?.cpu) process.stdout.write(`    CPU per request, ${name.padEnd(6)}  ${formatCpu(m.cpu)}, in all ${cpuTotal(m.cpu).toFixed(0)} µs${m.perCommit !== null ? `; ${m.perCommit.toFixed(1)} debits per commit` : ''}\n`);
  }
}

/**
 * BENCH_ONLY=debits-many: the echo and the engine with 1,000 organizations under today's load
 * shape, with the CPU each process spends per request; BENCH_ONLY=floor: the same in both load
 * shapes with the durable floor beside them. For measuring a change quickly (no report is written).
 */
export async function benchDebitsMany(ncs: NatsConnection[], env: BenchEnv, tag: string, withFloor: boolean): Promise<ShapeComparison[]> {
  const prefix = { echo: `be${tag}`, engine: `bx${tag}`, floor: `bf${tag}` };
  const many = Array.from({ length: ORGS }, (_, i) => `org-${i}`);
  const shapes = withFloor ? SHAPES : [SPREAD];
  const scope = cpuScope(env);
  process.stdout.write(`\nwallet debits, ${shapes.map(describeShape).join(', then ')}, ${DURATION_MS / 1000} s each\n`);
  const echo = await withServer('bench/src/echo-server.js', { ...env, SUBJECT_PREFIX: prefix.echo }, (server) =>
    eachShape(shapes, (shape) => measure('NATS request/reply echo (trivial responder)', ncs, shape, prefix.echo, [`hot-${tag}`], { child: server, scope })),
  );
  const floor = withFloor
    ? await withServer('bench/src/floor-server.js', { ...env, SUBJECT_PREFIX: prefix.floor }, (server) =>
        eachShape(shapes, (shape) => measure(`durable floor, ${ORGS} organizations`, ncs, shape, prefix.floor, many, { child: server, scope, commits: true })),
      )
    : null;
  const engine = await withServer('bench/src/engine-server.js', { ...env, SUBJECT_PREFIX: prefix.engine, DB_POOL_MAX: '10' }, async (server) => {
    await waitForBalance(ncs[0], prefix.engine);
    await seed(ncs[0], prefix.engine, many);
    return eachShape(shapes, (shape) => measure(`engine, ${ORGS} organizations`, ncs, shape, prefix.engine, many, { child: server, scope, commits: true, profiled: true }));
  });
  const comparisons = shapes.map((shape, i) => ({ shape, echo: echo[i], floor: floor?.[i] ?? null, engine: engine[i] }));
  printComparisons(comparisons);
  return comparisons;
}

export interface DebitFigures {
  readonly echo: LoadResult;
  readonly engineHot: LoadResult;
  readonly engineMany: LoadResult;
  readonly baseHot: LoadResult;
  readonly baseMany: LoadResult;
  /** The crash-safety costs: the same 1,000-organization load without events, and without synchronous commit. */
  readonly engineManyAsyncCommit: LoadResult;
  /** 1,000 organizations in each load shape: echo, durable floor and engine, with CPU per request. */
  readonly byShape: ShapeComparison[];
}

/**
 * Debits per second: the raw NATS echo of a trivial responder, the engine (one hot
 * organization, 1,000 organizations), the durable floor and the one-transaction-per-debit
 * baseline, same load; the 1,000-organization figures in both load shapes.
 */
export async function benchDebits(ncs: NatsConnection[], env: BenchEnv, tag: string, setDatabase: (setting: string) => Promise<void>): Promise<DebitFigures> {
  const prefix = { echo: `be${tag}`, engine: `bx${tag}`, base: `bb${tag}`, floor: `bf${tag}` };
  const hot = [`hot-${tag}`];
  const many = Array.from({ length: ORGS }, (_, i) => `org-${i}`);
  const scope = cpuScope(env);
  process.stdout.write(`\nwallet debits, ${describeShape(SPREAD)} unless stated, ${DURATION_MS / 1000} s each\n`);

  const echoes = await withServer('bench/src/echo-server.js', { ...env, SUBJECT_PREFIX: prefix.echo }, (server) =>
    eachShape(SHAPES, (shape) => measure('NATS request/reply echo (trivial responder)', ncs, shape, prefix.echo, hot, { child: server, scope })),
  );

  const { engineHot, engines } = await withServer('bench/src/engine-server.js', { ...env, SUBJECT_PREFIX: prefix.engine, DB_POOL_MAX: '10' }, async (engine) => {
    await waitForBalance(ncs[0], prefix.engine);
    await seed(ncs[0], prefix.engine, [...hot, ...many]);
    // The baseline's wallets are seeded through the engine too: same rows, same starting balance.
    await seed(ncs[0], prefix.engine, [`base-${hot[0]}`, ...many.map((o) => `base-${o}`)]);
    return {
      engineHot: await measure('engine, one hot organization', ncs, SPREAD, prefix.engine, hot),
      engines: await eachShape(SHAPES, (shape) => measure(`engine, ${ORGS} organizations`, ncs, shape, prefix.engine, many, { child: engine, scope, commits: true })),
    };
  });

  const floors = await withServer('bench/src/floor-server.js', { ...env, SUBJECT_PREFIX: prefix.floor }, (server) =>
    eachShape(SHAPES, (shape) => measure(`durable floor, ${ORGS} organizations`, ncs, shape, prefix.floor, many, { child: server, scope, commits: true })),
  );

  // What the crash safety costs: no waiting for the WAL flush at commit (a crash may lose the last acknowledged commits).
  await setDatabase('synchronous_commit = off');
  let engineManyAsyncCommit: LoadResult;
  try {
    engineManyAsyncCommit = await withServer('bench/src/engine-server.js', { ...env, SUBJECT_PREFIX: prefix.engine, DB_POOL_MAX: '10' }, async () => {
      await waitForBalance(ncs[0], prefix.engine);
      return measure(`engine, ${ORGS} orgs, synchronous_commit=off`, ncs, SPREAD, prefix.engine, many);
    });
  } finally {
    await setDatabase('synchronous_commit = on');
  }

  const [baseHot, baseMany] = await withServer('bench/src/baseline-server.js', { ...env, SUBJECT_PREFIX: prefix.base, DB_POOL_MAX: '10' }, async () => [
    await measure('baseline (tx + FOR UPDATE), one hot org', ncs, SPREAD, prefix.base, [`base-${hot[0]}`]),
    await measure(`baseline (tx + FOR UPDATE), ${ORGS} orgs`, ncs, SPREAD, prefix.base, many.map((o) => `base-${o}`)),
  ]);

  const echo = echoes[0];
  const engineMany = engines[0];
  const pct = (a: LoadResult, b: LoadResult) => `${((100 * a.perSecond) / b.perSecond).toFixed(1)}%`;
  const x = (a: LoadResult, b: LoadResult) => `${(a.perSecond / b.perSecond).toFixed(1)}x`;
  process.stdout.write(`\n  ratios (target in brackets), ${describeShape(SPREAD)}\n`);
  process.stdout.write(`  engine ${ORGS} orgs / echo     ${pct(engineMany, echo).padStart(7)}   [>= 50%]\n`);
  process.stdout.write(`  engine hot org / echo       ${pct(engineHot, echo).padStart(7)}   [>= 30%]\n`);
  process.stdout.write(`  engine hot / baseline hot   ${x(engineHot, baseHot).padStart(7)}   [>= 5x]\n`);
  process.stdout.write(`  engine ${ORGS} / baseline ${ORGS}   ${x(engineMany, baseMany).padStart(7)}\n`);
  process.stdout.write(`  baseline hot / echo         ${pct(baseHot, echo).padStart(7)}\n`);
  process.stdout.write(`  engine 1000 sync commit / async     ${pct(engineMany, engineManyAsyncCommit).padStart(7)}\n`);
  const byShape = SHAPES.map((shape, i) => ({ shape, echo: echoes[i], floor: floors[i], engine: engines[i] }));
  printComparisons(byShape);
  return { echo, engineHot: engineHot, engineMany, baseHot, baseMany, engineManyAsyncCommit, byShape };
}
