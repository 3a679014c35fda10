import { randomUUID } from 'crypto';
import { Behavior } from '@billing/actors';
import { balanceSnapshot, BalanceSnapshot, entryView, ErrorCode, errorReply, EventType, Subjects } from '@billing/contracts';
import {
  assertLedgerInvariant,
  balanceOf,
  decide,
  decideMeter,
  Decimal,
  EMPTY_METER,
  expireGrants,
  expiringNotices,
  firstBillableMs,
  Grant,
  gpuRatePerHour,
  LedgerEntry,
  lowBalanceCrossings,
  meterDays,
  meteredUntil,
  MeterState,
  nextExpiry,
  pruneSpentGrants,
  totalOf,
  usableBalance,
  WalletState,
  ZERO,
} from '@billing/domain';
import { DuplicateKeyError, LoadedWallet, meterKey, OutboxMessage, StoredOutboxMessage, VersionConflictError, WalletChange } from '@billing/persistence';
import { BookEntry, ResourceBook } from '../resources/resource-book';
import { WalletMessage } from './wallet-message';

/** How often a batch is decided again after another writer committed the same wallet first. */
export const MAX_CONFLICT_RETRIES = 3;

export interface WalletActorDeps {
  readonly subjects: Subjects;
  readonly now: () => Date;
  readonly load: (orgId: string) => Promise<LoadedWallet>;
  readonly findMeters: (orgId: string, keys: { resourceId: string; day: string }[]) => Promise<Map<string, MeterState>>;
  readonly findGrants: (orgId: string, ids: string[]) => Promise<Grant[]>;
  readonly findByKeys: (orgId: string, keys: string[]) => Promise<LedgerEntry[]>;
  readonly commit: (change: WalletChange) => Promise<StoredOutboxMessage[]>;
  readonly published: (messages: StoredOutboxMessage[]) => void;
  readonly setLowBalanceThresholds: (orgId: string, thresholds: readonly Decimal[]) => Promise<void>;
  readonly resources: ResourceBook;
  readonly minRunwayMinutes: number;
  /** A `grant_expiring` notice goes out this long before a grant with credit left expires. */
  readonly expiryNoticeMs: number;
  /** False only in the benchmark that measures the outbox's cost. */
  readonly writeEvents: boolean;
}

/** The store could not be reached: nothing of the batch is known to be committed. */
export class StoreUnavailableError extends Error {}

interface Outcome {
  readonly message: WalletMessage;
  readonly body: (state: WalletState) => object;
}

interface BatchResult {
  readonly state: WalletState;
  readonly entries: LedgerEntry[];
  readonly outcomes: Outcome[];
  /** Meters set by the batch, by `meterKey`. */
  readonly meters: Map<string, { resourceId: string; day: string; meter: MeterState }>;
  /** Resources whose meters caught up with them, and when. */
  readonly metered: BookEntry[];
  /** Grants announced as expiring soon by this batch. */
  readonly notices: Grant[];
  readonly now: Date;
}

/** Which days of which resources a batch's meter messages will set. */
interface MeterPlan {
  readonly entry: BookEntry;
  readonly days: ReturnType<typeof meterDays>;
}

const DAY_MS = 86_400_000;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The only writer of one organization's wallet. Decides a whole batch on its in-memory state,
 * commits it (with every other actor's batch of the moment) in one transaction, and only then
 * answers. The state it keeps is always the committed one.
 */
export class WalletActor implements Behavior<WalletMessage> {
  private loaded: LoadedWallet | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly orgId: string,
    private readonly deps: WalletActorDeps,
    /** Lets the actor schedule its own expiry run. */
    private readonly tellSelf: (message: WalletMessage) => void,
  ) {}

  async receive(batch: WalletMessage[]): Promise<void> {
    // Keys are looked up in the ledger only after the commit said one of them is there already.
    let prior: LedgerEntry[] = [];
    for (let attempt = 0; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
      if (!this.loaded) {
        this.loaded = await this.guard(this.deps.load(this.orgId));
        this.scheduleExpiry();
      }
      const now = this.deps.now();
      const plans = this.planMeters(batch, now);
      const wallet = (this.loaded = await this.ensureMeters(plans, await this.applySettings(batch, this.loaded)));
      const result = this.decideBatch(wallet, batch, prior, plans, now);
      if (result.entries.length === 0 && result.notices.length === 0) {
        this.finish(wallet, result);
        return;
      }
      let stored: StoredOutboxMessage[];
      try {
        stored = await this.deps.commit(this.changeOf(wallet, result));
      } catch (error) {
        if (error instanceof VersionConflictError) {
          this.loaded = null;
          continue;
        }
        if (error instanceof DuplicateKeyError) {
          const keys = [...new Set(batch.flatMap((m) => ('command' in m.parsed ? [m.parsed.command.idempotencyKey] : [])))];
          prior = await this.guard(this.deps.findByKeys(this.orgId, keys));
          continue;
        }
        throw new StoreUnavailableError(String((error as Error)?.message ?? error));
      }
      assertLedgerInvariant(result.state, totalOf(wallet.state).plus(result.entries.reduce((s, e) => s.plus(e.amount), ZERO)));
      const keep = new Set<string>();
      for (const [key, { meter }] of result.meters) wallet.meters.set(key, meter);
      for (const m of wallet.meters.values()) for (const g of m.byGrant.keys()) keep.add(g);
      this.loaded = { ...wallet, state: pruneSpentGrants(result.state, keep), version: wallet.version + 1 };
      this.deps.published(stored);
      this.finish(this.loaded, result);
      this.scheduleExpiry();
      return;
    }
    for (const m of batch) m.reply(errorReply(ErrorCode.CONFLICT, 'the wallet kept changing under another writer; retry with the same idempotency key'));
  }

  onCrash(batch: WalletMessage[], error: unknown): void {
    const reply =
      error instanceof StoreUnavailableError
        ? errorReply(ErrorCode.UNAVAILABLE, 'the ledger could not be reached; nothing is confirmed; retry with the same idempotency key')
        : errorReply(ErrorCode.INTERNAL, 'internal error; the wallet was reloaded; retry with the same idempotency key');
    for (const m of batch) m.reply(reply);
  }

  restart(): void {
    this.loaded = null;
  }

  stop(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
  }

  private snapshot(state: WalletState): BalanceSnapshot {
    return balanceSnapshot({
      orgId: this.orgId,
      seq: state.seq,
      currency: state.currency,
      balance: balanceOf(state),
      burnRatePerHour: this.deps.resources.burnRatePerHour(this.orgId, state.currency),
      grants: state.grants,
      at: this.deps.now(),
    });
  }

  private async guard<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (error) {
      throw new StoreUnavailableError(String((error as Error)?.message ?? error));
    }
  }

  /** Low-balance thresholds are settings: stored before the batch, effective for its crossings. */
  private async applySettings(batch: WalletMessage[], wallet: LoadedWallet): Promise<LoadedWallet> {
    for (let i = batch.length - 1; i >= 0; i--) {
      const parsed = batch[i].parsed;
      if (parsed.name !== 'alerts.set') continue;
      await this.guard(this.deps.setLowBalanceThresholds(this.orgId, parsed.lowBalance));
      return { ...wallet, lowBalanceThresholds: parsed.lowBalance };
    }
    return wallet;
  }

  private decideBatch(wallet: LoadedWallet, batch: WalletMessage[], prior: LedgerEntry[], plans: Map<WalletMessage, MeterPlan[]>, now: Date): BatchResult {
    const seen = new Map(prior.map((e) => [e.idempotencyKey, e]));
    const expired = expireGrants(wallet.state, { now, newId: randomUUID });
    let state = expired.state;
    const entries: LedgerEntry[] = [...expired.entries];
    const outcomes: Outcome[] = [];
    const meters: BatchResult['meters'] = new Map();
    const metered: BookEntry[] = [];
    const fixed = (body: object) => () => body;
    for (const message of batch) {
      const parsed = message.parsed;
      switch (parsed.name) {
        case 'balance':
          outcomes.push({ message, body: (s) => ({ ok: true, balance: this.snapshot(s) }) });
          break;
        case 'expire':
          break;
        case 'alerts.set':
          outcomes.push({ message, body: fixed({ ok: true, lowBalance: parsed.lowBalance.map((t) => t.toFixed()) }) });
          break;
        case 'authorize':
          outcomes.push({ message, body: fixed(this.authorize(state, parsed.service, parsed.sku, now)) });
          break;
        case 'meter': {
          const before = entries.length;
          state = this.meter(state, wallet, plans.get(message) ?? [], now, entries, meters, metered);
          outcomes.push({ message, body: fixed({ ok: true, entries: entries.length - before }) });
          break;
        }
        default: {
          const { command, requestHash } = parsed;
          const first = seen.get(command.idempotencyKey);
          if (first) {
            const body =
              first.requestHash === requestHash
                ? { ok: true, entry: entryView(first) }
                : errorReply(ErrorCode.IDEMPOTENCY_CONFLICT, `idempotency key '${command.idempotencyKey}' was used for a different request`);
            outcomes.push({ message, body: fixed(body) });
            break;
          }
          const decision = decide(state, command, { now, newId: randomUUID, requestHash });
          if (!decision.ok) {
            outcomes.push({ message, body: fixed(errorReply(decision.refusal.code, decision.refusal.message)) });
            break;
          }
          state = decision.state;
          entries.push(decision.entry);
          seen.set(command.idempotencyKey, decision.entry);
          outcomes.push({ message, body: fixed({ ok: true, entry: entryView(decision.entry) }) });
        }
      }
    }
    // A correction may give credit back to a grant that has expired since: written off at once.
    const after = expireGrants(state, { now, newId: randomUUID });
    entries.push(...after.entries);
    const announced = expiringNotices(after.state, now, this.deps.expiryNoticeMs);
    return { state: announced.state, entries, outcomes, meters, metered, notices: announced.notices, now };
  }

  /** The resources each meter message covers (the listed ones, or every billable one) and their days to set. */
  private planMeters(batch: WalletMessage[], now: Date): Map<WalletMessage, MeterPlan[]> {
    const plans = new Map<WalletMessage, MeterPlan[]>();
    const book = this.deps.resources;
    for (const message of batch) {
      const parsed = message.parsed;
      if (parsed.name !== 'meter') continue;
      const entries = parsed.resourceIds === null ? book.billable(this.orgId) : parsed.resourceIds.flatMap((id) => book.entry(this.orgId, id) ?? []);
      plans.set(message, entries.map((entry) => ({ entry, days: meterDays(entry.meterFromMs, now.getTime()) })));
    }
    return plans;
  }

  /**
   * Meters of days the wallet no longer holds in memory (a late event about an old day) are read
   * before deciding, with the spent grants they may give a correction back to.
   */
  private async ensureMeters(plans: Map<WalletMessage, MeterPlan[]>, wallet: LoadedWallet): Promise<LoadedWallet> {
    const missing: { resourceId: string; day: string }[] = [];
    for (const list of plans.values()) {
      for (const { entry, days } of list) {
        for (const { day } of days) {
          if (day < wallet.metersCompleteFrom && !wallet.meters.has(meterKey(entry.record.resourceId, day))) missing.push({ resourceId: entry.record.resourceId, day });
        }
      }
    }
    if (missing.length === 0) return wallet;
    const found = await this.guard(this.deps.findMeters(this.orgId, missing));
    for (const k of missing) wallet.meters.set(meterKey(k.resourceId, k.day), found.get(meterKey(k.resourceId, k.day)) ?? EMPTY_METER);
    const held = new Set(wallet.state.grants.map((g) => g.id));
    const grantIds = [...new Set([...found.values()].flatMap((m) => [...m.byGrant.keys()]))].filter((id) => !held.has(id));
    if (grantIds.length === 0) return wallet;
    const grants = await this.guard(this.deps.findGrants(this.orgId, grantIds));
    return { ...wallet, state: { ...wallet.state, grants: [...wallet.state.grants, ...grants] } };
  }

  /** Sets each planned resource's charge for each of its days (UTC), up to now. */
  private meter(
    start: WalletState,
    wallet: LoadedWallet,
    plans: MeterPlan[],
    now: Date,
    entries: LedgerEntry[],
    meters: BatchResult['meters'],
    metered: BookEntry[],
  ): WalletState {
    const currency = start.currency;
    if (currency === null) return start; // never credited: usage waits, it is billed once there is a currency
    const nowMs = now.getTime();
    let state = start;
    for (const { entry, days } of plans) {
      const { record } = entry;
      const rates = this.deps.resources.rates(record, currency);
      const startMs = firstBillableMs(record.periods);
      if (!rates || startMs === null) continue;
      let before = meteredUntil(record.periods, rates, days.length ? days[0].startMs : nowMs);
      for (const d of days) {
        const upto = Math.min(d.endMs, nowMs);
        const due = meteredUntil(record.periods, rates, upto);
        const key = meterKey(record.resourceId, d.day);
        const meter = meters.get(key)?.meter ?? wallet.meters.get(key) ?? EMPTY_METER;
        const decision = decideMeter(state, meter, {
          type: 'meter',
          resourceId: record.resourceId,
          day: d.day,
          workspaceId: record.workspaceId,
          service: record.service,
          currency,
          amount: due.amount.minus(before.amount),
          usageMs: due.gpuMs - before.gpuMs,
          until: new Date(upto),
        }, { now, newId: randomUUID });
        if (!decision.ok) throw new Error(`meter ${record.resourceId} ${d.day}: ${decision.refusal.message}`);
        state = decision.state;
        if (decision.entry) entries.push(decision.entry);
        if (decision.meter !== meter) meters.set(key, { resourceId: record.resourceId, day: d.day, meter: decision.meter });
        before = due;
      }
      metered.push(entry);
    }
    return state;
  }

  private authorize(state: WalletState, service: string, sku: string, now: Date): object {
    if (state.currency === null) return errorReply(ErrorCode.NO_BILLING_CURRENCY, 'the wallet has never been credited');
    const rate = gpuRatePerHour(this.deps.resources.catalog, sku, state.currency);
    if (rate === null) return errorReply(ErrorCode.UNKNOWN_SKU, `no price for SKU '${sku}' in ${state.currency}`);
    const required = rate.times(this.deps.minRunwayMinutes).dividedBy(60);
    const usable = usableBalance(state, service, now);
    const authorized = usable.greaterThanOrEqualTo(required);
    return {
      ok: true,
      authorized,
      ...(authorized ? {} : { reason: `the balance usable for ${service} (${usable.toFixed()} ${state.currency}) does not cover ${this.deps.minRunwayMinutes} minutes of ${sku} (${required.toFixed()} ${state.currency})` }),
      required: required.toFixed(),
      usable: usable.toFixed(),
      balance: this.snapshot(state),
    };
  }

  private changeOf(before: LoadedWallet, result: BatchResult): WalletChange {
    const { state, entries } = result;
    const touched = new Set([...entries.flatMap((e) => e.split.map((p) => p.grantId)), ...result.notices.map((g) => g.id)]);
    const grants: Grant[] = state.grants.filter((g) => touched.has(g.id));
    const totalBefore = totalOf(before.state);
    const totalAfter = totalOf(state);
    const snapshot = this.snapshot(state);
    const events: OutboxMessage[] = [this.event('balance', snapshot)];
    if (totalBefore.greaterThan(ZERO) && !totalAfter.greaterThan(ZERO)) {
      events.push(
        this.event('depleted', {
          orgId: this.orgId,
          seq: state.seq,
          currency: state.currency,
          total: snapshot.total,
          exact: { total: totalAfter.toFixed() },
          runningResources: this.deps.resources.running(this.orgId),
          at: snapshot.at,
        }),
      );
    }
    for (const threshold of lowBalanceCrossings(totalBefore, totalAfter, before.lowBalanceThresholds).reverse()) {
      events.push(this.event('low_balance', { orgId: this.orgId, seq: state.seq, currency: state.currency, threshold: threshold.toFixed(), total: snapshot.total, exact: { total: totalAfter.toFixed() }, runwaySeconds: snapshot.runwaySeconds, at: snapshot.at }));
    }
    for (const e of entries) {
      if (e.type === 'expire') {
        events.push(this.event('grant_expired', { orgId: this.orgId, seq: e.seq, grantId: e.reference, service: e.service, amount: e.amount.negated().toFixed(), currency: e.currency, at: e.at.toISOString() }));
      }
    }
    for (const g of result.notices) {
      events.push(this.event('grant_expiring', { orgId: this.orgId, seq: state.seq, grantId: g.id, kind: g.kind, service: g.service, remaining: g.remaining.toFixed(), currency: g.currency, expiresAt: g.expiresAt?.toISOString(), at: result.now.toISOString() }));
    }
    const meters = [...result.meters.values()];
    return { orgId: this.orgId, expectedVersion: before.version, state, entries, grants, meters, events: this.deps.writeEvents ? events : [] };
  }

  private event(type: EventType, body: object): OutboxMessage {
    const eventId = randomUUID();
    return { eventId, subject: this.deps.subjects.event(this.orgId, type), payload: JSON.stringify({ eventId, type, ...body }) };
  }

  private finish(wallet: LoadedWallet, result: BatchResult): void {
    if (result.entries.length === 0) for (const [key, { meter }] of result.meters) wallet.meters.set(key, meter);
    for (const entry of result.metered) this.deps.resources.metered(this.orgId, entry, result.now.getTime());
    this.forgetOldMeters(wallet, result.now.getTime());
    for (const o of result.outcomes) o.message.reply(o.body(wallet.state));
  }

  /** Days before yesterday rarely change again: their meters leave memory (read back if a late event needs them). */
  private forgetOldMeters(wallet: LoadedWallet, nowMs: number): void {
    const yesterday = dayOf(nowMs - DAY_MS);
    if (wallet.metersCompleteFrom >= yesterday) return;
    for (const key of wallet.meters.keys()) if (key.slice(key.lastIndexOf('|') + 1) < yesterday) wallet.meters.delete(key);
    this.loaded = { ...(this.loaded ?? wallet), metersCompleteFrom: yesterday };
  }

  /** Expiry happens on time even when nothing is charged: the actor wakes itself at the next expiry. */
  private scheduleExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    const next = this.loaded ? nextExpiry(this.loaded.state, this.deps.expiryNoticeMs) : null;
    if (!next) return;
    const delayMs = Math.max(0, Math.min(next.getTime() - this.deps.now().getTime(), 2 ** 31 - 1));
    this.expiryTimer = setTimeout(() => this.tellSelf({ parsed: { name: 'expire' }, reply: () => undefined }), delayMs);
    this.expiryTimer.unref();
  }
}
