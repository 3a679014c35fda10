import { AckPolicy, DeliverPolicy, nanos, NatsConnection, RetentionPolicy, StorageType } from 'nats';
import { TestNames, testDatabaseUrl } from './engine';
import {
  Attempt,
  checkBank,
  LoadRecord,
  PublishedEvent,
  readEventStream,
  readPriceCatalog,
  readStore,
  RecordedRequest,
  ResourceSpec,
  RETRYABLE_CODES,
} from './bank-checker';

/**
 * The load of the crash and scale-out tests: top-ups, debits and lifecycle events with every
 * request and its outcome recorded, for the bank checker. Everything random comes from a seed.
 */
const CURRENCY = 'USD';
/** A request with no reply in this time counts as unknown and is retried later with the same key. */
const REQUEST_TIMEOUT_MS = 1500;
const SETTLE_TIMEOUT_MS = 60_000;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const between = (rng: () => number, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
export const pick = <T>(rng: () => number, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];

const TOPUP_AMOUNTS = ['1.00', '2.50', '10.00', '0.01', '25.00'];
const DEBIT_AMOUNTS = ['0.01', '0.25', '1.2345', '0.00000001', '3.5', '0.12345678'];

/**
 * The load generator: a few workers sending top-ups and debits, one publishing lifecycle events,
 * every request and its outcome recorded. Unknown outcomes are retried, later, with the same key
 * and payload, as a client must.
 */
export class LoadGenerator {
  readonly requests: RecordedRequest[] = [];
  readonly resources = new Map<string, { spec: ResourceSpec; events: PublishedEvent[]; state: 'new' | 'running' | 'stopped' | 'deleted' }>();
  /** Replays of acknowledged requests that did not return the first reply. */
  readonly replayMismatches: string[] = [];
  private readonly unknown: RecordedRequest[] = [];
  private stopping = false;
  private workers: Promise<void>[] = [];
  private n = 0;

  /** `nc` sends the wallet commands (an operator's); `controlPlane` publishes the lifecycle events. */
  constructor(
    private readonly nc: NatsConnection,
    private readonly names: TestNames,
    readonly orgs: string[],
    private readonly seed: number,
    private readonly controlPlane: NatsConnection = nc,
  ) {}

  addResource(spec: ResourceSpec): void {
    this.resources.set(`${spec.orgId}/${spec.resourceId}`, { spec, events: [], state: 'new' });
  }

  record(): LoadRecord {
    return { currency: CURRENCY, orgs: this.orgs, requests: this.requests, resources: this.resources };
  }

  newRequest(rng: () => number, orgId: string, command: 'topup' | 'debit', amount?: string): RecordedRequest {
    const idempotencyKey = `${command}-${this.seed}-${++this.n}`;
    const body =
      command === 'topup'
        ? { idempotencyKey, amount: amount ?? pick(rng, TOPUP_AMOUNTS), currency: CURRENCY, provider: 'stripe', reference: `pi_${idempotencyKey}` }
        : { idempotencyKey, amount: amount ?? pick(rng, DEBIT_AMOUNTS), service: 'gpu-container', workspaceId: 'ws-load', description: 'crash test' };
    const r: RecordedRequest = { orgId, command, idempotencyKey, body, outcome: { kind: 'unknown' }, attempts: [] };
    this.requests.push(r);
    return r;
  }

  /** One attempt; the outcome only ever moves from unknown to ok or refused. */
  async send(r: RecordedRequest): Promise<void> {
    const attempt: Attempt = { sentAtMs: Date.now(), answeredAtMs: null, result: 'timeout' };
    r.attempts.push(attempt);
    let reply: any;
    try {
      const msg = await this.nc.request(`${this.names.subjectPrefix}.wallet.${r.orgId}.${r.command}`, Buffer.from(JSON.stringify(r.body)), { timeout: REQUEST_TIMEOUT_MS });
      reply = JSON.parse(Buffer.from(msg.data).toString('utf8'));
      attempt.answeredAtMs = Date.now();
    } catch (error) {
      attempt.result = /503|no responders/i.test(String((error as Error).message)) ? 'no-responders' : 'timeout';
      if (r.outcome.kind === 'unknown') this.unknown.push(r);
      return;
    }
    if (reply.ok) {
      attempt.result = 'ok';
      const entry = { id: reply.entry.id, seq: reply.entry.seq, amount: reply.entry.amount };
      if (r.outcome.kind === 'ok') {
        if (r.outcome.entry.id !== entry.id || r.outcome.entry.seq !== entry.seq) this.replayMismatches.push(`${r.orgId}|${r.idempotencyKey}: first ${JSON.stringify(r.outcome.entry)}, replay ${JSON.stringify(entry)}`);
      } else r.outcome = { kind: 'ok', entry };
      return;
    }
    attempt.result = reply.error.code;
    attempt.message = reply.error.message;
    if (RETRYABLE_CODES.has(reply.error.code)) {
      if (r.outcome.kind === 'unknown') this.unknown.push(r);
    } else if (r.outcome.kind === 'ok') this.replayMismatches.push(`${r.orgId}|${r.idempotencyKey}: acknowledged, replay answered ${reply.error.code}`);
    else r.outcome = { kind: 'refused', code: reply.error.code };
  }

  /** Sends until the request has a definitive answer (used before and after the chaos). */
  async sendUntilAnswered(r: RecordedRequest, deadlineMs: number): Promise<void> {
    for (;;) {
      await this.send(r);
      if (r.outcome.kind !== 'unknown') return;
      if (Date.now() > deadlineMs) throw new Error(`${r.idempotencyKey} has no answer: ${JSON.stringify(r.attempts.slice(-3))}`);
      await sleep(200);
    }
  }

  start(walletWorkers: number): void {
    this.stopping = false;
    for (let w = 0; w < walletWorkers; w++) this.workers.push(this.walletWorker(mulberry32(this.seed * 31 + w)));
    this.workers.push(this.lifecycleWorker(mulberry32(this.seed * 31 + 1000)));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers);
    this.workers = [];
  }

  /** Every unknown request retried until it has an answer. */
  async settleRequests(deadlineMs: number): Promise<void> {
    while (this.unknown.length > 0) {
      const batch = this.unknown.splice(0, this.unknown.length).filter((r) => r.outcome.kind === 'unknown');
      await Promise.all(batch.map((r) => this.send(r)));
      if (this.unknown.length === 0) return;
      if (Date.now() > deadlineMs) throw new Error(`${this.unknown.length} requests still have no answer`);
      await sleep(200);
    }
  }

  /** Stops (sometimes) and deletes every resource, so that every total is final. */
  async finishResources(rng: () => number): Promise<void> {
    for (const r of this.resources.values()) {
      if (r.state === 'running' && rng() < 0.5) await this.lifecycle(r, 'STOPPED');
      if (r.state !== 'deleted') await this.lifecycle(r, 'DELETED');
    }
  }

  private async walletWorker(rng: () => number): Promise<void> {
    while (!this.stopping) {
      const roll = rng();
      if (roll < 0.15 && this.unknown.length > 0) await this.send(this.unknown.shift()!);
      else if (roll < 0.2) {
        const acked = this.requests.filter((r) => r.outcome.kind === 'ok');
        if (acked.length > 0) await this.send(pick(rng, acked));
      } else await this.send(this.newRequest(rng, pick(rng, this.orgs), rng() < 0.35 ? 'topup' : 'debit'));
      // A client backs off when the engine does not answer.
      const last = this.requests[this.requests.length - 1]?.attempts.at(-1)?.result;
      await sleep(last === 'timeout' || last === 'no-responders' ? between(rng, 200, 400) : between(rng, 10, 60));
    }
  }

  private async lifecycleWorker(rng: () => number): Promise<void> {
    const all = [...this.resources.values()];
    while (!this.stopping) {
      await sleep(between(rng, 150, 600));
      const r = pick(rng, all);
      await this.lifecycle(r, r.state === 'running' ? 'STOPPED' : 'RUNNING');
    }
  }

  /** Publishes one event to JetStream, retried with the same id and body until it is stored there. */
  private async lifecycle(r: { spec: ResourceSpec; events: PublishedEvent[]; state: string }, status: 'RUNNING' | 'STOPPED' | 'DELETED'): Promise<void> {
    const last = r.events[r.events.length - 1];
    const atMs = Math.max(Date.now(), (last?.atMs ?? 0) + 1);
    const event: PublishedEvent = { eventId: `ev-${this.seed}-${r.spec.resourceId}-${r.events.length + 1}`, status, atMs, confirmed: false };
    r.events.push(event);
    r.state = status === 'RUNNING' ? 'running' : status === 'STOPPED' ? 'stopped' : 'deleted';
    const { spec } = r;
    const body = JSON.stringify({ eventId: event.eventId, orgId: spec.orgId, workspaceId: spec.workspaceId, resourceId: spec.resourceId, service: spec.service, sku: spec.sku, storageGb: spec.storageGb, status, at: new Date(atMs).toISOString() });
    const subject = `${this.names.lifecycleSubjectPrefix}.${spec.orgId}.${spec.resourceId}`;
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      try {
        await this.controlPlane.jetstream().publish(subject, Buffer.from(body), { msgID: event.eventId, timeout: 2000 });
        event.confirmed = true;
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`lifecycle event ${event.eventId} could not be published: ${String(error)}`);
        await sleep(250);
      }
    }
  }
}

/**
 * The lifecycle stream and consumer as an operator would set them up ahead of the engine (the
 * engine keeps an existing consumer as configured, but for a delivery limit, which it lifts): the
 * same settings except a 10 s ack wait, so a message delivered to a process that is then killed
 * comes back in 10 s rather than 60 s.
 */
export async function prepareLifecycleConsumer(nc: NatsConnection, names: TestNames, replicas = 1): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: names.lifecycleStream, subjects: [`${names.lifecycleSubjectPrefix}.>`], storage: StorageType.File, retention: RetentionPolicy.Limits, duplicate_window: nanos(120_000), num_replicas: replicas });
  await jsm.consumers.add(names.lifecycleStream, {
    durable_name: names.lifecycleConsumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(10_000),
    max_deliver: -1,
    max_ack_pending: 20_000,
    filter_subject: `${names.lifecycleSubjectPrefix}.>`,
  });
}

/** Orgs, their first top-up, and resources (some with disks, some without). `controlPlane`: the connection that publishes lifecycle events. */
export async function setUp(nc: NatsConnection, names: TestNames, seed: number, orgCount: number, resourceCount: number, controlPlane: NatsConnection = nc): Promise<LoadGenerator> {
  const orgs = Array.from({ length: orgCount }, (_, i) => `${names.subjectPrefix}-org-${i}`);
  const load = new LoadGenerator(nc, names, orgs, seed, controlPlane);
  const rng = mulberry32(seed);
  const skus = ['h100-1x', 'a100-1x', 'l40s-1x', 'h100-8x'];
  for (let i = 0; i < resourceCount; i++) {
    load.addResource({ orgId: orgs[i % orgs.length], resourceId: `r-${i}`, workspaceId: `ws-${i % 2}`, service: 'gpu-container', sku: pick(rng, skus), storageGb: i % 3 === 0 ? 0 : between(rng, 10, 500) });
  }
  const deadline = Date.now() + 30_000;
  await Promise.all(orgs.map((orgId) => load.sendUntilAnswered(load.newRequest(rng, orgId, 'topup', '500.00'), deadline)));
  return load;
}

/** Ends the load and waits until the engine has caught up with everything; then checks the bank. */
export async function settleAndCheck(load: LoadGenerator, nc: NatsConnection, names: TestNames, seed: number, databaseUrl = testDatabaseUrl()): Promise<ReturnType<typeof checkBank>> {
  await load.stop();
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  await load.settleRequests(deadline);
  await load.finishResources(mulberry32(seed + 7));
  const record = load.record();
  const catalog = readPriceCatalog();
  // Settled: every event stored and deleted, the ledger charges stable over two reads, the outbox empty.
  let store = await readStore(load.orgs, databaseUrl);
  let previous = '';
  for (;;) {
    const allStored = [...record.resources].every(([key, r]) => store.deleted.has(key) && r.events.every((e) => store.storedEvents.get(key)?.includes(e.eventId)));
    const fingerprint = `${store.ledger.length}|${[...store.wallets.values()].map((w) => w.seq).join(',')}`;
    if (allStored && store.outboxPending === 0 && fingerprint === previous) break;
    if (Date.now() > deadline) break; // the checker says what is missing
    previous = allStored ? fingerprint : '';
    await sleep(1000);
    store = await readStore(load.orgs, databaseUrl);
  }
  const stream = (await readEventStream(nc, names.eventsStream)).filter((e) => load.orgs.includes(e.body.orgId));
  const report = checkBank(record, store, stream, catalog);
  report.violations.push(...load.replayMismatches.map((m) => `replay: ${m}`));
  return report;
}

/** How the attempts ended: ok, an error code, timeout (outcome unknown) or no-responders (engine down). */
export function attemptResults(load: LoadGenerator): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of load.requests) for (const a of r.attempts) out[`attempts_${a.result}`] = (out[`attempts_${a.result}`] ?? 0) + 1;
  return out;
}

export function summary(label: string, report: ReturnType<typeof checkBank>, extra: Record<string, number | string>, load?: LoadGenerator): void {
  if (load) extra = { ...extra, ...attemptResults(load) };
  process.stdout.write(`${label}: ${JSON.stringify({ ...extra, ...report.stats })}\n`);
}

