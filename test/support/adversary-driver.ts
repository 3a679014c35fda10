import { existsSync, readFileSync, statSync, writeFileSync } from 'fs';
import { NatsConnection } from 'nats';
import { partitionOf } from '@billing/persistence';
import { AdversityPlan, assertDecidableStamp, changedCatalog, CURRENCY, LOW_BALANCE_THRESHOLDS, PlannedMessage, Publication } from './adversary';
import { RecordedRequest, RETRYABLE_CODES } from './bank-checker';
import { sql, TestNames } from './engine';
import { EngineProcess } from './engine-process';
import { between, LoadGenerator, mulberry32, pick, sleep } from './load-generator';
import { SentEvent } from './reference-model';
import { TcpProxy, TestNats, TestPostgres } from './servers';

/**
 * The adversary of the adversity test, part two: sends the plan (`adversary.ts`) to two engine
 * processes sharing the organizations, while doing its faults to them, and records everything
 * it sent and was told, for the checker. Publishing and wallet requests ride the faults out as
 * a real client must: a publish is retried with the same JetStream id until stored, a wallet
 * request whose outcome is unknown is sent again with the same key.
 */

const PUBLISH_DEADLINE_MS = 120_000;
const ASK_TIMEOUT_MS = 3000;
const ENGINE_UP_TIMEOUT_MS = 60_000;

/** One lifecycle message as sent (for a duplicate: the same body as its first copy). */
export interface SentMessage {
  readonly planned: PlannedMessage;
  readonly event: SentEvent;
  confirmed: boolean;
}

export interface AcknowledgedGrant {
  readonly orgId: string;
  readonly idempotencyKey: string;
  readonly amount: string;
  /** false: refused for good (nothing recorded). */
  readonly ok: boolean;
}

export interface Subscription {
  readonly orgId: string;
  readonly id: string;
  readonly startsAtMs: number;
  readonly periodMs: number;
  cancelledAtMs: number | null;
}

export interface Environment {
  /** As `operator`: credits, debits, plans, streams. */
  readonly nc: NatsConnection;
  /** As `control-plane`: the lifecycle messages. */
  readonly controlPlane: NatsConnection;
  /** As `billing`: reads the lease bucket, as the engines do (no other role may). */
  readonly observer: NatsConnection;
  readonly names: TestNames;
  readonly engines: readonly [EngineProcess, EngineProcess];
  readonly nodeIds: readonly [string, string];
  readonly pg: TestPostgres;
  readonly pgProxy: TcpProxy;
  readonly nats: TestNats;
  readonly catalogFile: string;
  readonly partitions: number;
}

type LifecycleBody = Record<string, unknown>;

export class AdversaryDriver {
  readonly sent: SentMessage[] = [];
  readonly grants: AcknowledgedGrant[] = [];
  readonly subscriptions: Subscription[] = [];
  readonly wallet: LoadGenerator;
  /** What happened when, in seconds from the start of the load, for the summary and the log. */
  readonly timeline: string[] = [];
  readonly faults = { kills: 0, killedWhileStarting: 0, pauses: 0, pausedMs: 0, takenOverWhilePaused: 0, natsRestarts: 0, outageSeconds: 0, priceChanges: 0 };
  loadStartMs = 0;
  priceChangeFromMs: number | null = null;
  private readonly bodies = new Map<string, { event: SentEvent; body: LifecycleBody }>();
  private readonly lastStampMs = new Map<string, number>();
  private paused: EngineProcess | null = null;
  private loadOver = false;

  constructor(readonly plan: AdversityPlan, private readonly env: Environment) {
    this.wallet = new LoadGenerator(env.nc, env.names, plan.orgs.map((o) => o.orgId), plan.seed);
  }

  get orgs(): string[] {
    return this.plan.orgs.map((o) => o.orgId);
  }

  private note(what: string): void {
    this.timeline.push(`${((Date.now() - this.loadStartMs) / 1000).toFixed(1)}s ${what}`);
  }

  // ---- before the load --------------------------------------------------------------------------

  /**
   * Thresholds first (so every batch is judged by them), then each organization's first top-up,
   * then the anchors: every known resource's first message, applied before any other so that the
   * attributes it keeps do not depend on arrival order.
   */
  async setUp(): Promise<void> {
    const deadline = Date.now() + 60_000;
    const rng = mulberry32(this.plan.seed + 3);
    for (const org of this.plan.orgs) {
      const reply = await this.ask(`${this.env.names.subjectPrefix}.wallet.${org.orgId}.alerts.set`, { lowBalance: LOW_BALANCE_THRESHOLDS }, deadline);
      if (!reply.ok) throw new Error(`alerts.set for ${org.orgId}: ${JSON.stringify(reply)}`);
      await this.wallet.sendUntilAnswered(this.wallet.newRequest(rng, org.orgId, 'topup', org.topup), deadline);
    }
    for (const m of this.plan.anchors) await this.publishOne(m, m.atMs!);
    const anchored = new Set(this.plan.anchors.map((m) => m.resourceId));
    for (;;) {
      const [row] = await sql<{ n: number }>('select count(*)::int as n from resources where org_id = any($1)', [this.orgs], this.env.pg.url);
      if (row.n === anchored.size) return;
      if (Date.now() > deadline) throw new Error(`${row.n} of ${anchored.size} anchor events applied after 60 s`);
      await sleep(200);
    }
  }

  // ---- the load -----------------------------------------------------------------------------------

  /** The load with its faults, then the live resources' last messages; returns once every request has an answer. */
  async run(): Promise<void> {
    this.loadStartMs = Date.now();
    this.note('load starts');
    await this.grantCredit();
    const publishing = this.publishAll(this.plan.publications);
    const traffic = this.walletTraffic();
    try {
      await this.doFaults();
      await this.sleepUntil(Math.max(this.loadStartMs + this.plan.loadMs, (this.priceChangeFromMs ?? 0) + 8000));
    } finally {
      this.loadOver = true;
      this.resume();
    }
    await publishing;
    await traffic;
    this.note('finish: the live resources stop and are deleted');
    await this.publishAll(this.plan.finish);
    await this.wallet.settleRequests(Date.now() + 120_000);
    this.note('every wallet request has an answer');
  }

  /** Vouchers (expiring during the load) and plan subscriptions (periods of seconds). */
  private async grantCredit(): Promise<void> {
    const deadline = Date.now() + 60_000;
    const p = this.env.names.subjectPrefix;
    for (const org of this.plan.orgs) {
      for (const v of org.vouchers) {
        const body = { idempotencyKey: v.idempotencyKey, kind: 'voucher', amount: v.amount, currency: CURRENCY, ...(v.service ? { service: v.service } : {}), expiresAt: new Date(this.loadStartMs + v.expiresAfterMs).toISOString() };
        const reply = await this.ask(`${p}.wallet.${org.orgId}.grant`, body, deadline);
        this.grants.push({ orgId: org.orgId, idempotencyKey: v.idempotencyKey, amount: v.amount, ok: reply.ok === true });
      }
      if (org.plan) {
        // Not idempotent (no key): asked once, before any fault.
        const startsAtMs = Math.ceil((Date.now() + 1000) / 1000) * 1000;
        const msg = await this.env.nc.request(`${p}.admin.plans.subscribe`, Buffer.from(JSON.stringify({ orgId: org.orgId, plan: 'adversity', amount: org.plan.amount, currency: CURRENCY, periodSeconds: org.plan.periodSeconds, ...(org.plan.rolloverCap ? { rolloverCap: org.plan.rolloverCap } : {}), startsAt: new Date(startsAtMs).toISOString() })), { timeout: 10_000 });
        const reply = JSON.parse(Buffer.from(msg.data).toString('utf8'));
        if (!reply.ok) throw new Error(`plans.subscribe for ${org.orgId}: ${JSON.stringify(reply)}`);
        this.subscriptions.push({ orgId: org.orgId, id: reply.subscription.id, startsAtMs, periodMs: org.plan.periodSeconds * 1000, cancelledAtMs: null });
      }
    }
  }

  /** Debits and top-ups at random, now and then one sent again with the same key (a retry, or a replay of an answered one). */
  private async walletTraffic(): Promise<void> {
    const rng = mulberry32(this.plan.seed + 17);
    while (!this.loadOver) {
      if (rng() < 0.1 && this.wallet.requests.length > 0) await this.wallet.send(pick(rng, this.wallet.requests));
      else {
        const org = pick(rng, this.plan.orgs);
        const topup = rng() < (org.poor ? 0.1 : 0.25);
        const r: RecordedRequest = this.wallet.newRequest(rng, org.orgId, topup ? 'topup' : 'debit', topup ? pick(rng, org.poor ? ['0.50', '2.00'] : ['5.00', '20.00']) : undefined);
        await this.wallet.send(r);
      }
      await sleep(between(rng, this.plan.debitRate.minGapMs, this.plan.debitRate.maxGapMs));
    }
  }

  private async publishAll(publications: readonly Publication[]): Promise<void> {
    for (const pub of publications) {
      await this.sleepUntil(this.loadStartMs + pub.afterMs);
      await this.publish(pub);
    }
  }

  /**
   * One publication: messages stamped when sent share one stamp (less the lag, to the second if
   * asked), never before the resource's previous stamp; a duplicate repeats its first copy's body.
   */
  private async publish(pub: Publication): Promise<void> {
    const sentAtMs = Date.now();
    const live = pub.messages.find((m) => m.atMs === null && m.role !== 'duplicate');
    let stampMs = sentAtMs - pub.lagMs;
    if (live) {
      const floor = (this.lastStampMs.get(live.resourceId) ?? 0) + 1;
      stampMs = pub.wholeSecond ? Math.max(Math.floor(stampMs / 1000) * 1000, Math.ceil(floor / 1000) * 1000) : Math.max(stampMs, floor);
    }
    for (const m of pub.messages) {
      if (m.role === 'duplicate' && m.atMs === null) {
        const first = this.bodies.get(m.eventId);
        if (!first) throw new Error(`duplicate ${m.msgId} planned before its first copy was sent`);
        await this.publishOne(m, first.event.atMs, first.event.publishedAtMs);
        continue;
      }
      await this.publishOne(m, m.atMs ?? stampMs);
      if (m.atMs === null && (m.role === 'true' || m.role === 'anchor')) this.lastStampMs.set(m.resourceId, stampMs);
    }
  }

  /** Publishes until JetStream stores it, always with the same id and body. */
  private async publishOne(m: PlannedMessage, atMs: number, firstSentAtMs = Date.now()): Promise<void> {
    assertDecidableStamp(atMs, firstSentAtMs, m.eventId);
    const event: SentEvent = { eventId: m.eventId, status: m.status, atMs, workspaceId: m.workspaceId, service: m.service, sku: m.sku, storageGb: m.storageGb, publishedAtMs: firstSentAtMs };
    const body = { eventId: m.eventId, orgId: m.orgId, workspaceId: m.workspaceId, resourceId: m.resourceId, service: m.service, sku: m.sku, ...(m.storageGb === null ? {} : { storageGb: m.storageGb }), status: m.status, at: new Date(atMs).toISOString() };
    if (!this.bodies.has(m.eventId)) this.bodies.set(m.eventId, { event, body });
    const record: SentMessage = { planned: m, event, confirmed: false };
    this.sent.push(record);
    const subject = `${this.env.names.lifecycleSubjectPrefix}.${m.orgId}.${m.resourceId}`;
    const deadline = Date.now() + PUBLISH_DEADLINE_MS;
    for (;;) {
      try {
        await this.env.controlPlane.jetstream().publish(subject, Buffer.from(JSON.stringify(body)), { msgID: m.msgId, timeout: 2000 });
        record.confirmed = true;
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`lifecycle message ${m.msgId} could not be published in ${PUBLISH_DEADLINE_MS} ms: ${String(error)}`);
        await sleep(250);
      }
    }
  }

  // ---- the faults ---------------------------------------------------------------------------------

  private async doFaults(): Promise<void> {
    const f = this.plan.faults;

    await this.sleepUntil(this.loadStartMs + f.kill.atMs);
    await this.kill(f.kill.engine);
    await sleep(f.kill.downMs);
    await this.restart(f.kill.engine);

    await this.sleepUntil(this.loadStartMs + f.pause.atMs);
    await this.pause(f.pause.pauseMs);

    await this.sleepUntil(this.loadStartMs + f.natsRestart.atMs);
    this.note(`NATS restarted (down ${f.natsRestart.downMs} ms)`);
    await this.env.nats.restart(f.natsRestart.downMs);
    this.faults.natsRestarts++;
    this.note('NATS back');

    await this.sleepUntil(this.loadStartMs + f.outage.atMs);
    const cutAtMs = Date.now();
    this.env.pgProxy.cut(f.outage.mode);
    this.note(`PostgreSQL cut off (${f.outage.mode}) for ${f.outage.ms / 1000} s`);
    if (f.outage.killEngine !== null) {
      await sleep(f.outage.killAfterMs);
      await this.kill(f.outage.killEngine);
    }
    await this.sleepUntil(cutAtMs + f.outage.ms);
    this.env.pgProxy.restore();
    this.faults.outageSeconds += Math.round((Date.now() - cutAtMs) / 1000);
    this.note('PostgreSQL reachable again');
    // An engine cannot start without its database: the one killed during the outage starts now.
    if (f.outage.killEngine !== null) await this.restart(f.outage.killEngine);
    await this.cancelPlans();

    await sleep(f.priceChange.afterOutageMs);
    this.priceChangeFromMs = Math.ceil((Date.now() + f.priceChange.effectiveInMs) / 1000) * 1000;
    writeFileSync(this.env.catalogFile, JSON.stringify(changedCatalog(this.priceChangeFromMs), null, 2));
    this.faults.priceChanges++;
    this.note(`new price catalog, effective ${new Date(this.priceChangeFromMs).toISOString()}; engines restarted with it`);
    const first = f.priceChange.first;
    const second = (1 - first) as 0 | 1;
    await this.kill(first);
    await this.restart(first);
    await sleep(f.priceChange.secondAfterMs);
    await this.kill(second);
    await this.restart(second);

    await sleep(f.lastKill.afterMs);
    await this.kill(f.lastKill.engine);
    if (f.lastKill.againWhileStartingMs !== null) {
      this.env.engines[f.lastKill.engine].spawn(); // not waited for: killed while it starts
      await sleep(f.lastKill.againWhileStartingMs);
      await this.kill(f.lastKill.engine);
      this.faults.killedWhileStarting++;
    }
    await this.restart(f.lastKill.engine);
  }

  private async kill(i: 0 | 1): Promise<void> {
    await this.env.engines[i].kill();
    this.faults.kills++;
    this.note(`SIGKILL ${this.env.nodeIds[i]}`);
  }

  private async restart(i: 0 | 1): Promise<void> {
    await this.start(i);
    this.note(`${this.env.nodeIds[i]} up again`);
  }

  /**
   * Starts the engine and waits until this process (not just any: a balance request may be
   * answered by the other one) says in its log that it listens.
   */
  async start(i: 0 | 1): Promise<void> {
    const engine = this.env.engines[i];
    const from = existsSync(engine.logFile) ? statSync(engine.logFile).size : 0;
    engine.spawn();
    const deadline = Date.now() + ENGINE_UP_TIMEOUT_MS;
    for (;;) {
      if (!engine.alive) throw new Error(`${this.env.nodeIds[i]} exited during start; see ${engine.logFile}`);
      if (readFileSync(engine.logFile).subarray(from).includes('"msg":"billing engine listening"')) return;
      if (Date.now() > deadline) throw new Error(`${this.env.nodeIds[i]} did not start within ${ENGINE_UP_TIMEOUT_MS} ms; see ${engine.logFile}`);
      await sleep(100);
    }
  }

  /** The lease holder of each organization's partition, from the owners bucket. */
  private async owners(): Promise<string[]> {
    const kv = await this.env.observer.jetstream().views.kv(this.env.names.ownersBucket);
    const out: string[] = [];
    for (const org of this.orgs) {
      const e = await kv.get(`p.${partitionOf(org, this.env.partitions)}`);
      out.push(e && e.operation === 'PUT' ? Buffer.from(e.value).toString('utf8') : '-');
    }
    return out;
  }

  /**
   * SIGSTOP of the engine owning most of the organizations, for more than two lease TTLs: the
   * other takes its partitions over; then SIGCONT, and the paused one (which may not have noticed)
   * must not be able to write anything.
   */
  private async pause(pauseMs: number): Promise<void> {
    const before = await this.owners();
    const held = this.env.nodeIds.map((id) => before.filter((o) => o === id).length);
    const i = held[0] >= held[1] ? 0 : 1;
    const engine = this.env.engines[i];
    if (!engine.pid || !engine.alive) throw new Error(`${this.env.nodeIds[i]} is not running: nothing to pause`);
    process.kill(engine.pid, 'SIGSTOP');
    this.paused = engine;
    const fromMs = Date.now();
    this.faults.pauses++;
    this.note(`SIGSTOP ${this.env.nodeIds[i]} (holds ${held[i]} of ${this.orgs.length} organizations) for ${pauseMs} ms`);
    await sleep(pauseMs);
    const during = await this.owners();
    this.faults.takenOverWhilePaused = before.filter((o, k) => o === this.env.nodeIds[i] && during[k] === this.env.nodeIds[1 - i]).length;
    this.resume();
    this.faults.pausedMs += Date.now() - fromMs;
    this.note(`SIGCONT ${this.env.nodeIds[i]}; ${this.faults.takenOverWhilePaused} organizations were taken over meanwhile`);
  }

  /** SIGCONT to the paused engine, if any (also when the test fails: a stopped process would outlive it). */
  resume(): void {
    if (this.paused?.pid && this.paused.alive) process.kill(this.paused.pid, 'SIGCONT');
    this.paused = null;
  }

  private async cancelPlans(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (const s of this.subscriptions) {
      const reply = await this.ask(`${this.env.names.subjectPrefix}.admin.plans.cancel`, { subscriptionId: s.id }, deadline);
      // A retry after a lost answer finds it cancelled already ("no active subscription"): the database says when.
      if (!reply.ok && reply.error?.code !== 'INVALID_FIELD') throw new Error(`plans.cancel ${s.id}: ${JSON.stringify(reply)}`);
      const [row] = await sql<{ ends_at: Date | null }>('select ends_at from plan_subscriptions where id = $1', [s.id], this.env.pg.url);
      s.cancelledAtMs = row?.ends_at ? new Date(row.ends_at).getTime() : null;
      if (s.cancelledAtMs === null) throw new Error(`plan subscription ${s.id} was not cancelled`);
    }
    this.note(`${this.subscriptions.length} plan subscriptions cancelled`);
  }

  // ---- small helpers --------------------------------------------------------------------------------

  /** A request sent until it has an answer that confirms or refuses (same body, so the same key). */
  private async ask(subject: string, body: object, deadlineMs: number): Promise<any> {
    for (;;) {
      try {
        const msg = await this.env.nc.request(subject, Buffer.from(JSON.stringify(body)), { timeout: ASK_TIMEOUT_MS });
        const reply = JSON.parse(Buffer.from(msg.data).toString('utf8'));
        if (reply.ok || !RETRYABLE_CODES.has(reply.error?.code)) return reply;
      } catch {
        // no answer: the outcome is unknown, ask again
      }
      if (Date.now() > deadlineMs) throw new Error(`${subject} has no answer`);
      await sleep(300);
    }
  }

  private async sleepUntil(ms: number): Promise<void> {
    const wait = ms - Date.now();
    if (wait > 0) await sleep(wait);
  }
}
