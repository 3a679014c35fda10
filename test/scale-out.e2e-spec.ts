import { readFileSync } from 'fs';
import { KV, NatsConnection } from 'nats';
import { openDatabase, partitionOf } from '@billing/persistence';
import { deleteStream, isolatedNames, sql, TestNames, testDatabaseUrl } from './support/engine';
import { buildEngine, connectTestClient, EngineProcess, engineProcessEnv } from './support/engine-process';
import { LoadGenerator, prepareLifecycleConsumer, settleAndCheck, setUp, sleep, summary } from './support/load-generator';

/**
 * Scale-out: several engine processes share the organizations through partition leases in a
 * JetStream key-value bucket. Killing one moves its organizations to the others well before its
 * leases could expire (NATS says nobody listens on its subject any more); pausing one for a while
 * moves nothing; and the bank checker of the crash tests passes across every handover.
 */
const SEED = Number(process.env.CRASH_SEED ?? 20261127) + 600;
const PARTITIONS = 64;
/**
 * Long enough that a takeover by lease expiry (a third of a TTL to a TTL after the kill) could not
 * pass the limit below: only the early takeover of a gone process can.
 */
const LEASE_TTL_MS = 12_000;
const HANDOVER_LIMIT_MS = LEASE_TTL_MS / 3;

/** Partitions per process, as the lease bucket says now. */
async function leaseHolders(kv: KV): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (let p = 0; p < PARTITIONS; p++) {
    const e = await kv.get(`p.${p}`);
    if (!e || e.operation !== 'PUT') continue;
    const node = Buffer.from(e.value).toString('utf8');
    out.set(node, [...(out.get(node) ?? []), p]);
  }
  return out;
}

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Time from now until every organization answers a `balance` request again. */
async function timeUntilAllAnswer(nc: NatsConnection, names: TestNames, orgs: readonly string[]): Promise<number> {
  const from = Date.now();
  await waitFor(
    'every organization to answer',
    async () => {
      const answers = await Promise.all(
        orgs.map((org) =>
          nc
            .request(`${names.subjectPrefix}.wallet.${org}.balance`, new Uint8Array(), { timeout: 300 })
            .then((m) => JSON.parse(Buffer.from(m.data).toString('utf8')).ok === true)
            .catch(() => false),
        ),
      );
      return answers.every(Boolean) ? true : null;
    },
    30_000,
  );
  return Date.now() - from;
}

describe(`scale-out (seed ${SEED})`, () => {
  let nc: NatsConnection;
  /** Publishes the lifecycle events, as the NATS user `control-plane` (`nc` is an operator's). */
  let controlPlane: NatsConnection;
  const engines: EngineProcess[] = [];
  const streams: string[] = [];

  beforeAll(async () => {
    await buildEngine();
    nc = await connectTestClient('scale-out-test');
    controlPlane = await connectTestClient('scale-out-control-plane', undefined, 'control-plane');
  }, 120_000);

  afterAll(async () => {
    for (const e of engines) await e.stop().catch(() => undefined);
    if (nc) {
      for (const s of streams) await deleteStream(nc, s).catch(() => undefined);
      await nc.close().catch(() => undefined);
    }
    await controlPlane?.close().catch(() => undefined);
  }, 60_000);

  it('computes the same partition in the database as in the engine', async () => {
    const ids = Array.from({ length: 500 }, (_, i) => `org-${i}-${(i * 2654435761) % 1_000_003}`);
    // Opening the database applies the migrations, `org_partition` among them.
    await (await openDatabase(testDatabaseUrl(), 2)).close(true);
    const rows = await sql<{ id: string; p: number }>(`select id, org_partition(id, $2) as p from unnest($1::text[]) as id`, [ids, PARTITIONS]);
    const mismatches = rows.filter((r) => r.p !== partitionOf(r.id, PARTITIONS));
    expect(rows).toHaveLength(ids.length);
    expect(mismatches).toEqual([]);
    expect(new Set(rows.map((r) => r.p)).size).toBeGreaterThan(PARTITIONS / 2);
  });

  it('shares the organizations between two processes, moves a killed one\'s to the other long before its leases expire, not a paused one\'s, and the bank balances across every handover', async () => {
    const startedMs = Date.now();
    const names = isolatedNames();
    streams.push(names.eventsStream, names.lifecycleStream, `KV_${names.ownersBucket}`);
    await prepareLifecycleConsumer(nc, names);
    const queueGroup = `q-${names.subjectPrefix}`;
    const engine = (node: string) => {
      const e = new EngineProcess(engineProcessEnv(names, { NODE_ID: node, QUEUE_GROUP: queueGroup, PARTITIONS: String(PARTITIONS), LEASE_TTL_MS: String(LEASE_TTL_MS) }), nc, names.subjectPrefix, `${names.subjectPrefix}-${node}`);
      engines.push(e);
      return e;
    };
    const a = engine('node-a');
    const b = engine('node-b');
    await a.start();
    await b.start();
    const kv = await nc.jetstream().views.kv(names.ownersBucket);
    const shared = () =>
      waitFor(
        'both processes to hold an even share',
        async () => {
          const holders = await leaseHolders(kv);
          const counts = [holders.get('node-a')?.length ?? 0, holders.get('node-b')?.length ?? 0];
          return counts[0] === PARTITIONS / 2 && counts[1] === PARTITIONS / 2 ? holders : null;
        },
        30_000,
      );
    const holders = await shared();

    const load: LoadGenerator = await setUp(nc, names, SEED, 16, 10, controlPlane);
    // The organizations are spread over both processes, so requests cross between them.
    const servedBy = new Set(load.orgs.map((org) => (holders.get('node-a')!.includes(partitionOf(org, PARTITIONS)) ? 'node-a' : 'node-b')));
    expect(servedBy).toEqual(new Set(['node-a', 'node-b']));
    load.start(4);
    await sleep(3000);

    // 1. node-a dies: node-b serves everything within the limit.
    await a.kill();
    const firstHandoverMs = await timeUntilAllAnswer(nc, names, load.orgs);
    await waitFor('node-b to hold every partition', async () => ((await leaseHolders(kv)).get('node-b')?.length === PARTITIONS ? true : null), 15_000);
    await sleep(2000);

    // 2. node-a comes back: node-b hands half over, under load, without a kill, and no client sees it.
    const rebalanceFromMs = Date.now();
    a.spawn();
    await a.waitReady();
    await shared();
    await sleep(1000);
    const rebalanceUntilMs = Date.now();
    await sleep(2000);

    // 3. node-b is paused for several probe rounds (but less than a TTL): its connection stays, so it is not taken for gone.
    const before = await leaseHolders(kv);
    process.kill(b.pid!, 'SIGSTOP');
    await sleep(3000);
    process.kill(b.pid!, 'SIGCONT');
    await sleep(500);
    const afterPause = await leaseHolders(kv);
    const freedWhilePaused = readFileSync(a.logFile, 'utf8').includes('engine process gone');

    // 4. node-b dies: node-a serves everything within the limit.
    await b.kill();
    const secondHandoverMs = await timeUntilAllAnswer(nc, names, load.orgs);
    await waitFor('node-a to hold every partition', async () => ((await leaseHolders(kv)).get('node-a')?.length === PARTITIONS ? true : null), 15_000);
    await sleep(2000);

    const report = await settleAndCheck(load, nc, names, SEED);
    const duringRebalance = load.requests.flatMap((r) => r.attempts).filter((at) => at.sentAtMs >= rebalanceFromMs && at.sentAtMs <= rebalanceUntilMs);
    const refusedDuringRebalance = duringRebalance.filter((at) => at.result !== 'ok').map((at) => `${at.result}: ${at.message ?? ''}`);
    summary('scale-out', report, { firstHandoverMs, secondHandoverMs, leaseTtlMs: LEASE_TTL_MS, attemptsDuringRebalance: duringRebalance.length, notOkDuringRebalance: refusedDuringRebalance.length, seconds: Math.round((Date.now() - startedMs) / 1000), logA: a.logFile, logB: b.logFile }, load);
    expect(freedWhilePaused).toBe(false);
    expect(afterPause.get('node-b')).toEqual(before.get('node-b'));
    expect(firstHandoverMs).toBeLessThanOrEqual(HANDOVER_LIMIT_MS);
    expect(secondHandoverMs).toBeLessThanOrEqual(HANDOVER_LIMIT_MS);
    expect(duringRebalance.length).toBeGreaterThan(0);
    expect(refusedDuringRebalance).toEqual([]);
    expect(report.violations).toEqual([]);
    expect(report.stats.unknownAtEnd).toBe(0);
    expect(report.stats.meterEntries).toBeGreaterThan(0);
  }, 240_000);

  it('refuses to start a second process with a NODE_ID that is already running', async () => {
    for (const e of engines) await e.stop();
    const names = isolatedNames();
    streams.push(names.eventsStream, names.lifecycleStream, `KV_${names.ownersBucket}`);
    const env = engineProcessEnv(names, { NODE_ID: 'twin', QUEUE_GROUP: `q-${names.subjectPrefix}` });
    const first = new EngineProcess(env, nc, names.subjectPrefix, `${names.subjectPrefix}-twin-1`);
    const second = new EngineProcess(env, nc, names.subjectPrefix, `${names.subjectPrefix}-twin-2`);
    engines.push(first, second);
    await first.start();
    second.spawn();
    expect(await second.waitExit(30_000)).toBe(1);
    expect(readFileSync(second.logFile, 'utf8')).toContain("another engine process with NODE_ID 'twin' is running");
    expect(first.alive).toBe(true);
  }, 90_000);
});
