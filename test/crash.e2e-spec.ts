import { execFile } from 'child_process';
import { readdirSync } from 'fs';
import { promisify } from 'util';
import { NatsConnection } from 'nats';
import { deleteStream, isolatedNames, TestNames } from './support/engine';
import { buildEngine, connectTestClient, EngineProcess, engineProcessEnv } from './support/engine-process';
import { between, mulberry32, prepareLifecycleConsumer, settleAndCheck, setUp, sleep, summary } from './support/load-generator';

/**
 * Crash tests: the engine as a real process under a mixed load (top-ups, debits, lifecycle
 * events, ticks), killed with SIGKILL at random moments, or with NATS or PostgreSQL restarted
 * under it; then the bank checker compares the load generator's record with the ledger and the
 * event stream. Everything random comes from one seed (CRASH_SEED to replay another).
 */
const SEED = Number(process.env.CRASH_SEED ?? 20261127);
const MIN_KILLS = 20;
const exec = promisify(execFile);

async function serviceUp(kind: 'postgres' | 'nats'): Promise<void> {
  if (kind === 'postgres') {
    const version = readdirSync('/etc/postgresql')[0];
    await exec('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']).catch(() => undefined); // already running is fine
  } else {
    await exec('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', '/usr/sbin/nats-server', '--', '-a', '127.0.0.1', '-p', '4222', '-js', '-sd', '/var/lib/nats-server', '-l', '/var/log/nats-server.log']);
  }
}

async function serviceDown(kind: 'postgres' | 'nats'): Promise<void> {
  if (kind === 'postgres') {
    const version = readdirSync('/etc/postgresql')[0];
    await exec('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'stop']);
  } else {
    await exec('start-stop-daemon', ['--stop', '--retry', '10', '--exec', '/usr/sbin/nats-server']);
  }
}

describe(`crash tests (seed ${SEED})`, () => {
  let nc: NatsConnection;
  const engines: EngineProcess[] = [];
  const streams: string[] = [];

  beforeAll(async () => {
    await buildEngine();
    nc = await connectTestClient('crash-test');
  }, 120_000);

  afterAll(async () => {
    // Whatever happened, leave PostgreSQL and NATS running for everyone else.
    await serviceUp('postgres').catch(() => undefined);
    await serviceUp('nats').catch(() => undefined);
    for (const e of engines) await e.stop().catch(() => undefined);
    if (nc) {
      await sleep(500);
      for (const s of streams) await deleteStream(nc, s).catch(() => undefined);
      await nc.close().catch(() => undefined);
    }
  }, 60_000);

  async function newEngine(names: TestNames): Promise<EngineProcess> {
    // One engine at a time: the tests share the database, and an engine that takes its partitions
    // again (after NATS restarts) loads every live resource of them, another test's included.
    for (const e of engines) await e.stop();
    streams.push(names.eventsStream, names.lifecycleStream, `KV_${names.ownersBucket}`);
    await prepareLifecycleConsumer(nc, names);
    const engine = new EngineProcess(engineProcessEnv(names), nc, names.subjectPrefix);
    engines.push(engine);
    await engine.start();
    return engine;
  }

  it(`loses, invents and doubles nothing when the engine is killed with SIGKILL ${MIN_KILLS}+ times under load`, async () => {
    const startedMs = Date.now();
    const names = isolatedNames();
    const engine = await newEngine(names);
    const load = await setUp(nc, names, SEED, 8, 8);
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
    const report = await settleAndCheck(load, nc, names, SEED);
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
    const load = await setUp(nc, names, SEED + 100, 6, 6);
    load.start(3);
    await sleep(3000);
    await serviceDown('nats');
    await sleep(2000);
    await serviceUp('nats');
    await sleep(4000);
    // The same process, answering again without help.
    expect(engine.alive).toBe(true);
    await engine.waitReady(30_000);
    await sleep(2000);
    const report = await settleAndCheck(load, nc, names, SEED + 100);
    const unknownsSeen = load.requests.filter((r) => r.attempts.some((a) => a.result !== 'ok')).length;
    summary('NATS restart', report, { requestsWithUnknownOutcome: unknownsSeen, seconds: Math.round((Date.now() - startedMs) / 1000), log: engine.logFile }, load);
    expect(engine.starts).toBe(1);
    expect(report.violations).toEqual([]);
    expect(report.stats.unknownAtEnd).toBe(0);
  }, 180_000);

  it('refuses with UNAVAILABLE while PostgreSQL is down, reconnects by itself, and the bank still balances', async () => {
    const startedMs = Date.now();
    const names = isolatedNames();
    const engine = await newEngine(names);
    const load = await setUp(nc, names, SEED + 200, 6, 6);
    load.start(3);
    await sleep(3000);
    await serviceDown('postgres');
    const downFromMs = Date.now();
    await sleep(3000);
    const downUntilMs = Date.now();
    await serviceUp('postgres');
    await sleep(4000);
    expect(engine.alive).toBe(true);
    await engine.waitReady(30_000);
    await sleep(2000);
    const report = await settleAndCheck(load, nc, names, SEED + 200);
    // While the database was down (sent after it stopped, answered before it started) nothing is ok.
    const whileDown = load.requests.flatMap((r) => r.attempts).filter((a) => a.sentAtMs >= downFromMs && a.answeredAtMs !== null && a.answeredAtMs <= downUntilMs);
    const answersWhileDown = whileDown.map((a) => a.result);
    const unknownsSeen = load.requests.filter((r) => r.attempts.some((a) => a.result !== 'ok')).length;
    summary('PostgreSQL restart', report, { answersWhileDown: answersWhileDown.length, unavailableWhileDown: answersWhileDown.filter((c) => c === 'UNAVAILABLE').length, requestsWithUnknownOutcome: unknownsSeen, seconds: Math.round((Date.now() - startedMs) / 1000), log: engine.logFile }, load);
    expect(engine.starts).toBe(1);
    expect(answersWhileDown.length).toBeGreaterThan(0);
    expect([...new Set(answersWhileDown)]).toEqual(['UNAVAILABLE']);
    expect(report.violations).toEqual([]);
    expect(report.stats.unknownAtEnd).toBe(0);
  }, 180_000);
});
