import { randomBytes } from 'crypto';
import { NatsConnection } from 'nats';
import { Client } from 'pg';
import { ControlPlaneSimulator } from '../../apps/simulator/src/control-plane.simulator';
import { engineStats, profileEngine, start, stop, waitForBalance } from './processes';

const TICK_INTERVAL_MS = 60_000;
const RESOURCES_PER_ORG = 100;
/** CPU is measured over this window: at least one full tick interval, so every resource is charged in it. */
const WINDOW_MS = Number(process.env.BENCH_RESOURCE_WINDOW_MS ?? TICK_INTERVAL_MS + 5_000);

export interface ResourceFigures {
  readonly resources: number;
  readonly ingestPerSecond: number;
  readonly cpuFractionOfCore: number;
  readonly meterEntriesPerSecond: number;
  readonly heapBytesPerResource: number;
  readonly rssBytesPerResource: number;
}

/**
 * How many running resources one engine keeps billed at TICK_INTERVAL_MS=60000, and at what
 * CPU: the engine's own CPU time (all its threads) over a window of a full tick interval, as a
 * fraction of one core; memory per resource from the engine's heap after a collection
 * (BENCH_PROFILE=<dir>: the engine's CPU profile of that window too).
 */
export async function benchResources(nc: NatsConnection, env: Record<string, string>, databaseUrl: string, count: number): Promise<ResourceFigures> {
  const tag = randomBytes(3).toString('hex');
  const names = { SUBJECT_PREFIX: `br${tag}`, EVENTS_STREAM: `BENCH_${tag}_EVENTS`, LIFECYCLE_STREAM: `BENCH_${tag}_LIFECYCLE`, LIFECYCLE_SUBJECT_PREFIX: `br${tag}.lifecycle`, LIFECYCLE_CONSUMER: `bench-${tag}` };
  const engine = await start('bench/src/engine-server.js', { ...env, ...names, TICK_INTERVAL_MS: String(TICK_INTERVAL_MS), ACTOR_IDLE_MS: '20000' }, ['--expose-gc']);
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await waitForBalance(nc, names.SUBJECT_PREFIX);
    const sim = new ControlPlaneSimulator(nc, {
      walletPrefix: names.SUBJECT_PREFIX,
      lifecyclePrefix: names.LIFECYCLE_SUBJECT_PREFIX,
      orgs: Math.ceil(count / RESOURCES_PER_ORG),
      resourcesPerOrg: RESOURCES_PER_ORG,
      currency: 'USD',
      topup: '100000000.00',
      skus: ['h100-1x', 'a100-1x', 'l40s-1x'],
      services: ['gpu-container', 'ai-notebook', 'vm'],
      orgPrefix: `o${tag}`,
    });
    await sim.fund();
    const before = await engineStats(engine, true);
    const ingestStarted = Date.now();
    await sim.startAll();
    for (;;) {
      const s = await engineStats(engine);
      if (s.lifecycleApplied >= count) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const ingestPerSecond = count / ((Date.now() - ingestStarted) / 1000);
    // Let the start-up burst settle (actors created for the events passivate), then measure.
    await new Promise((r) => setTimeout(r, 25_000));
    const loaded = await engineStats(engine, true);
    const profile = process.env.BENCH_PROFILE ? await profileEngine(engine) : null;
    const windowStart = Date.now();
    const [{ n: entriesBefore }] = (await db.query("select count(*)::int as n from ledger_entries where org_id like $1 and type = 'debit'", [`o${tag}-%`])).rows;
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const after = await engineStats(engine);
    if (profile) process.stdout.write(`    profile: ${await profile()}\n`);
    const [{ n: entriesAfter }] = (await db.query("select count(*)::int as n from ledger_entries where org_id like $1 and type = 'debit'", [`o${tag}-%`])).rows;
    const seconds = (Date.now() - windowStart) / 1000;
    const cpuSeconds = (after.cpu.user + after.cpu.system - loaded.cpu.user - loaded.cpu.system) / 1e6;
    const figures: ResourceFigures = {
      resources: count,
      ingestPerSecond,
      cpuFractionOfCore: cpuSeconds / seconds,
      meterEntriesPerSecond: (entriesAfter - entriesBefore) / seconds,
      heapBytesPerResource: (loaded.memory.heapUsed - before.memory.heapUsed) / count,
      rssBytesPerResource: (loaded.memory.rss - before.memory.rss) / count,
    };
    process.stdout.write(
      `  ${String(count).padStart(7)} running resources: engine CPU ${(100 * figures.cpuFractionOfCore).toFixed(1)}% of a core [target <= 50% at 100,000]; ` +
        `${figures.meterEntriesPerSecond.toFixed(0)} charges/s; heap ${(figures.heapBytesPerResource / 1024).toFixed(2)} KiB and RSS ${(figures.rssBytesPerResource / 1024).toFixed(2)} KiB per resource; ` +
        `lifecycle events taken in at ${figures.ingestPerSecond.toFixed(0)}/s (${loaded.billableResources} billable, ${loaded.resourceActors} resource actors active)\n`,
    );
    return figures;
  } finally {
    await stop(engine);
    await db.end();
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(names.EVENTS_STREAM).catch(() => undefined);
    await jsm.streams.delete(names.LIFECYCLE_STREAM).catch(() => undefined);
  }
}
