import { readFileSync } from 'fs';
import { NatsConnection } from 'nats';
import { isolatedNames } from './support/engine';
import { buildEngine, connectTestClient, EngineProcess, engineProcessEnv } from './support/engine-process';
import { LoadGenerator, prepareLifecycleConsumer, settleAndCheck, setUp, sleep, summary } from './support/load-generator';
import { startTestNatsCluster } from './support/nats-roles';
import { TestNats } from './support/servers';

/**
 * The engine on a three-node NATS cluster (config/nats/nats-cluster-node.conf, routes on
 * loopback, JetStream with three replicas of the lifecycle and event streams and of the lease
 * bucket). Under a mixed load (top-ups, debits, lifecycle messages, ticks), one NATS node is
 * killed and restarted, then another: every engine process reconnects by itself, and the bank
 * checker finds no money error, no acknowledged credit lost and no lifecycle message lost.
 */
const SEED = Number(process.env.CRASH_SEED ?? 20261127) + 700;
const REPLICAS = 3;
/** Long enough for the cluster to elect new stream, consumer and bucket leaders under load. */
const NODE_DOWN_MS = 8000;

describe(`the engine on a three-node NATS cluster (seed ${SEED})`, () => {
  let cluster: TestNats[] = [];
  let nc: NatsConnection;
  let controlPlane: NatsConnection;
  const engines: EngineProcess[] = [];

  beforeAll(async () => {
    await buildEngine();
    cluster = await startTestNatsCluster(3);
  }, 120_000);

  afterAll(async () => {
    for (const e of engines) await e.stop().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    await controlPlane?.close().catch(() => undefined);
    for (const node of cluster) await node.stop();
  }, 60_000);

  it('bills exactly while NATS nodes die and come back, one after the other', async () => {
    const startedMs = Date.now();
    const url = cluster.map((n) => n.url).join(',');
    nc = await connectTestClient('cluster-test', url);
    controlPlane = await connectTestClient('cluster-control-plane', url, 'control-plane');
    // A stream with three replicas can be placed once the three nodes have formed the JetStream
    // cluster (JetStream's API times out or refuses the placement until then).
    const names = isolatedNames();
    for (let deadline = Date.now() + 60_000; ; await sleep(250)) {
      const error = await prepareLifecycleConsumer(nc, names, REPLICAS).then(() => null, (e: Error) => e);
      if (!error) break;
      if (Date.now() > deadline) throw new Error(`the NATS cluster took no three-replica stream within 60 s: ${error.message}`);
    }
    const jsm = await nc.jetstreamManager();
    const queueGroup = `q-${names.subjectPrefix}`;
    for (const node of ['engine-a', 'engine-b']) {
      const env = engineProcessEnv(names, { NODE_ID: node, QUEUE_GROUP: queueGroup, PARTITIONS: '16', NATS_URL: url, JETSTREAM_REPLICAS: String(REPLICAS) });
      engines.push(new EngineProcess(env, nc, names.subjectPrefix, `${names.subjectPrefix}-${node}`));
    }
    for (const e of engines) await e.start();

    // What the engine created, it created with a copy on every node.
    const replicasOf = async (stream: string) => (await jsm.streams.info(stream)).config.num_replicas;
    expect(await replicasOf(names.eventsStream)).toBe(REPLICAS);
    expect(await replicasOf(`KV_${names.ownersBucket}`)).toBe(REPLICAS);
    expect(await replicasOf(names.lifecycleStream)).toBe(REPLICAS);

    const load: LoadGenerator = await setUp(nc, names, SEED, 12, 10, controlPlane);
    load.start(4);
    await sleep(3000);
    const faults: string[] = [];
    for (const i of [0, 1]) {
      await cluster[i].kill();
      faults.push(`${((Date.now() - startedMs) / 1000).toFixed(1)}s node-${i} SIGKILL`);
      await sleep(NODE_DOWN_MS);
      await cluster[i].restart();
      faults.push(`${((Date.now() - startedMs) / 1000).toFixed(1)}s node-${i} back`);
      await sleep(4000);
    }

    const report = await settleAndCheck(load, nc, names, SEED);
    const logs = engines.map((e) => readFileSync(e.logFile, 'utf8'));
    const count = (what: string) => logs.reduce((n, log) => n + log.split(what).length - 1, 0);
    summary('nats cluster', report, {
      faults: faults.join('; '),
      leasesLost: count('partition lease lost'),
      processesFoundGone: count('engine process gone'),
      seconds: Math.round((Date.now() - startedMs) / 1000),
      logs: engines.map((e) => e.logFile).join(' '),
    }, load);
    // Both engine processes rode it out (none exited), and the bank balances.
    expect(engines.map((e) => e.alive)).toEqual([true, true]);
    expect(report.violations).toEqual([]);
    expect(report.stats.unknownAtEnd).toBe(0);
    expect(report.stats.meterEntries).toBeGreaterThan(0);
    expect(report.stats.lifecycleEvents).toBeGreaterThan(0);
  }, 300_000);
});
