import { NatsConnection } from 'nats';
import { isolatedNames, TestNames } from './support/engine';
import { buildEngine, connectTestClient, EngineProcess, engineProcessEnv } from './support/engine-process';
import { between, LoadGenerator, mulberry32, prepareLifecycleConsumer, settleAndCheck, setUp, sleep, summary } from './support/load-generator';
import { testNatsOptions } from './support/nats-roles';
import { startNats, startPostgres, TcpProxy, TestNats, TestPostgres } from './support/servers';

/**
 * Crash tests: the engine as a real process under a mixed load (top-ups, debits, lifecycle
 * events, ticks), killed with SIGKILL at random moments, or with NATS restarted or PostgreSQL cut
 * off under it; then the bank checker compares the load generator's record with the ledger and
 * the event stream. Everything random comes from one seed (CRASH_SEED to replay another).
 *
 * The engine runs against a nats-server and a PostgreSQL of this test's own, the database reached
 * through a proxy the test can cut, so breaking them disturbs no other test and nobody's servers.
 */
const SEED = Number(process.env.CRASH_SEED ?? 20261127);
const MIN_KILLS = 20;

describe(`crash tests (seed ${SEED})`, () => {
  let pg: TestPostgres;
  let pgProxy: TcpProxy;
  let nats: TestNats;
  let nc: NatsConnection;
  /** Publishes the lifecycle events, as the NATS user `control-plane` (`nc` is an operator's). */
  let controlPlane: NatsConnection;
  const engines: EngineProcess[] = [];

  beforeAll(async () => {
    // Settled, not Promise.all: a server that started while the other failed is still stopped in afterAll.
    const started = await Promise.allSettled([startPostgres().then((s) => (pg = s)), startNats(testNatsOptions()).then((s) => (nats = s)), buildEngine()]);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    pgProxy = await TcpProxy.start(pg.url);
    nc = await connectTestClient('crash-test', nats.url);
    controlPlane = await connectTestClient('crash-test-control-plane', nats.url, 'control-plane');
  }, 120_000);

  afterAll(async () => {
    // Each step whatever the one before did: every process this test started is stopped.
    for (const e of engines) await e.stop().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    await controlPlane?.close().catch(() => undefined);
    await pgProxy?.close().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
  }, 60_000);

  async function newEngine(names: TestNames): Promise<EngineProcess> {
    // One engine at a time: the tests share the database, and an engine that takes its partitions
    // again (after NATS restarts) loads every live resource of them, another test's included.
    for (const e of engines) await e.stop();
    await prepareLifecycleConsumer(nc, names);
    const engine = new EngineProcess(engineProcessEnv(names, { DATABASE_URL: pgProxy.url, NATS_URL: nats.url }), nc, names.subjectPrefix);
    engines.push(engine);
    await engine.start();
    return engine;
  }

  /** The checker reads the database directly, not through the proxy the test cuts. */
  const check = (load: LoadGenerator, names: TestNames, seed: number) => settleAndCheck(load, nc, names, seed, pg.url);

  it(`loses, invents and doubles nothing when the engine is killed with SIGKILL ${MIN_KILLS}+ times under load`, async () => {
    const startedMs = Date.now();
    const names = isolatedNames();
    const engine = await newEngine(names);
    const load = await setUp(nc, names, SEED, 8, 8, controlPlane);
    const killer = mulberry32(SEED + 1);
    load.start(4);
    while (engine.kills < MIN_KILLS) {
      await sleep(between(killer, 300, 1200));
      await engine.kill();
      engine.spawn();
      // Now and then the next incarnation dies while still starting (resuming resources, connecting).
      if (killer() < 0.25) {
        await sleep(between(killer, 100, 1500));
        await engine.kill();
        engine.spawn();
      }
      await engine.waitReady();
    }
    const killPhaseSeconds = Math.round((Date.now() - startedMs) / 1000);
    const report = await check(load, names, SEED);
    const unknownsSeen = load.requests.filter((r) => r.attempts.some((a) => a.result !== 'ok')).length;
    summary('SIGKILL', report, { killPhaseSeconds, kills: engine.kills, starts: engine.starts, requestsWithUnknownOutcome: unknownsSeen, seconds: Math.round((Date.now() - startedMs) / 1000), log: engine.logFile }, load);
    expect(engine.kills).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(report.violations).toEqual([]);
    expect(report.stats.unknownAtEnd).toBe(0);
    expect(report.stats.meterEntries).toBeGreaterThan(0);
  }, 240_000);

  it('reconnects by itself when NATS is restarted under load, and the bank still balances', async () => {
    const startedMs = Date.now();
    const names = isolatedNames();
    const engine = await newEngine(names);
    const load = await setUp(nc, names, SEED + 100, 6, 6, controlPlane);
    load.start(3);
    await sleep(3000);
    await nats.restart(2000);
    await sleep(4000);
    // The same process, answering again without help.
    expect(engine.alive).toBe(true);
    await engine.waitReady(30_000);
    await sleep(2000);
    const report = await check(load, names, SEED + 100);
    const unknownsSeen = load.requests.filter((r) => r.attempts.some((a) => a.result !== 'ok')).length;
    summary('NATS restart', report, { requestsWithUnknownOutcome: unknownsSeen, seconds: Math.round((Date.now() - startedMs) / 1000), log: engine.logFile }, load);
    expect(engine.starts).toBe(1);
    expect(report.violations).toEqual([]);
    expect(report.stats.unknownAtEnd).toBe(0);
  }, 180_000);

  it('refuses with UNAVAILABLE while PostgreSQL is unreachable, reconnects by itself, and the bank still balances', async () => {
    const startedMs = Date.now();
    const names = isolatedNames();
    const engine = await newEngine(names);
    const load = await setUp(nc, names, SEED + 200, 6, 6, controlPlane);
    load.start(3);
    await sleep(3000);
    // As PostgreSQL down: open connections reset, new ones refused.
    pgProxy.cut('refuse');
    const downFromMs = Date.now();
    await sleep(3000);
    const downUntilMs = Date.now();
    pgProxy.restore();
    await sleep(4000);
    expect(engine.alive).toBe(true);
    await engine.waitReady(30_000);
    await sleep(2000);
    const report = await check(load, names, SEED + 200);
    // While the database was unreachable (sent after the cut, answered before the restore) nothing is ok.
    const whileDown = load.requests.flatMap((r) => r.attempts).filter((a) => a.sentAtMs >= downFromMs && a.answeredAtMs !== null && a.answeredAtMs <= downUntilMs);
    const answersWhileDown = whileDown.map((a) => a.result);
    const unknownsSeen = load.requests.filter((r) => r.attempts.some((a) => a.result !== 'ok')).length;
    summary('PostgreSQL cut', report, { answersWhileDown: answersWhileDown.length, unavailableWhileDown: answersWhileDown.filter((c) => c === 'UNAVAILABLE').length, requestsWithUnknownOutcome: unknownsSeen, seconds: Math.round((Date.now() - startedMs) / 1000), log: engine.logFile }, load);
    expect(engine.starts).toBe(1);
    expect(answersWhileDown.length).toBeGreaterThan(0);
    expect([...new Set(answersWhileDown)]).toEqual(['UNAVAILABLE']);
    expect(report.violations).toEqual([]);
    expect(report.stats.unknownAtEnd).toBe(0);
  }, 180_000);
});
