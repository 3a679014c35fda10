import { randomUUID } from 'crypto';
import { Behavior } from '@billing/actors';
import { balanceSnapshot, entryView, ErrorCode, errorReply, Subjects } from '@billing/contracts';
import {
  assertLedgerInvariant,
  balanceOf,
  decide,
  Decimal,
  expireGrants,
  Grant,
  LedgerEntry,
  nextExpiry,
  pruneSpentGrants,
  totalOf,
  WalletState,
  ZERO,
} from '@billing/domain';
import { DuplicateKeyError, LoadedWallet, OutboxMessage, StoredOutboxMessage, VersionConflictError, WalletChange } from '@billing/persistence';
import { WalletMessage } from './wallet-message';

/** How often a batch is decided again after another writer committed the same wallet first. */
export const MAX_CONFLICT_RETRIES = 3;

export interface WalletActorDeps {
  readonly subjects: Subjects;
  readonly now: () => Date;
  readonly load: (orgId: string) => Promise<LoadedWallet>;
  readonly findByKeys: (orgId: string, keys: string[]) => Promise<LedgerEntry[]>;
  readonly commit: (change: WalletChange) => Promise<StoredOutboxMessage[]>;
  readonly published: (messages: StoredOutboxMessage[]) => void;
  /** Running resources' burn rate; zero until resources are billed. */
  readonly burnRatePerHour: (orgId: string) => Decimal;
}

/** The store could not be reached: nothing of the batch is known to be committed. */
export class StoreUnavailableError extends Error {}

interface Outcome {
  readonly message: WalletMessage;
  readonly body: (state: WalletState) => object;
}

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
      const wallet = this.loaded;
      const { state, entries, outcomes } = this.decideBatch(wallet.state, batch, prior);
      if (entries.length === 0) {
        this.answer(outcomes, wallet.state);
        return;
      }
      const change = this.changeOf(wallet, state, entries);
      let stored: StoredOutboxMessage[];
      try {
        stored = await this.deps.commit(change);
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
      assertLedgerInvariant(state, totalOf(wallet.state).plus(entries.reduce((s, e) => s.plus(e.amount), ZERO)));
      this.loaded = { state: pruneSpentGrants(state), version: wallet.version + 1 };
      this.deps.published(stored);
      this.answer(outcomes, this.loaded.state);
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

  snapshot(state: WalletState) {
    return balanceSnapshot({
      orgId: this.orgId,
      seq: state.seq,
      currency: state.currency,
      balance: balanceOf(state),
      burnRatePerHour: this.deps.burnRatePerHour(this.orgId),
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

  private decideBatch(start: WalletState, batch: WalletMessage[], prior: LedgerEntry[]) {
    const now = this.deps.now();
    const seen = new Map(prior.map((e) => [e.idempotencyKey, e]));
    const expired = expireGrants(start, { now, newId: randomUUID });
    let state = expired.state;
    const entries: LedgerEntry[] = [...expired.entries];
    const outcomes: Outcome[] = [];
    for (const message of batch) {
      const parsed = message.parsed;
      if (!('command' in parsed)) {
        if (parsed.name === 'balance') outcomes.push({ message, body: (s) => ({ ok: true, balance: this.snapshot(s) }) });
        continue;
      }
      const { command, requestHash } = parsed;
      const first = seen.get(command.idempotencyKey);
      if (first) {
        const body =
          first.requestHash === requestHash
            ? { ok: true, entry: entryView(first) }
            : errorReply(ErrorCode.IDEMPOTENCY_CONFLICT, `idempotency key '${command.idempotencyKey}' was used for a different request`);
        outcomes.push({ message, body: () => body });
        continue;
      }
      const decision = decide(state, command, { now, newId: randomUUID, requestHash });
      if (!decision.ok) {
        const body = errorReply(decision.refusal.code, decision.refusal.message);
        outcomes.push({ message, body: () => body });
        continue;
      }
      state = decision.state;
      entries.push(decision.entry);
      seen.set(command.idempotencyKey, decision.entry);
      const body = { ok: true, entry: entryView(decision.entry) };
      outcomes.push({ message, body: () => body });
    }
    return { state, entries, outcomes };
  }

  private changeOf(before: LoadedWallet, state: WalletState, entries: LedgerEntry[]): WalletChange {
    const touched = new Set(entries.flatMap((e) => e.split.map((p) => p.grantId)));
    const grants: Grant[] = state.grants.filter((g) => touched.has(g.id));
    const totalBefore = totalOf(before.state);
    const totalAfter = totalOf(state);
    const snapshot = this.snapshot(state);
    const events: OutboxMessage[] = [this.event('balance', snapshot)];
    if (totalBefore.greaterThan(ZERO) && !totalAfter.greaterThan(ZERO)) {
      events.push(this.event('depleted', { orgId: this.orgId, seq: state.seq, currency: state.currency, total: snapshot.total, exact: { total: totalAfter.toFixed() }, runningResources: [], at: snapshot.at }));
    }
    for (const e of entries) {
      if (e.type === 'expire') {
        events.push(this.event('grant_expired', { orgId: this.orgId, seq: e.seq, grantId: e.reference, service: e.service, amount: e.amount.negated().toFixed(), currency: e.currency, at: e.at.toISOString() }));
      }
    }
    return { orgId: this.orgId, expectedVersion: before.version, state, entries, grants, events };
  }

  private event(type: 'balance' | 'depleted' | 'grant_expired', body: object): OutboxMessage {
    const eventId = randomUUID();
    return { eventId, subject: this.deps.subjects.event(this.orgId, type), payload: JSON.stringify({ eventId, type, ...body }) };
  }

  private answer(outcomes: Outcome[], state: WalletState): void {
    for (const o of outcomes) o.message.reply(o.body(state));
  }

  /** Expiry happens on time even when nothing is charged: the actor wakes itself at the next expiry. */
  private scheduleExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    const next = this.loaded ? nextExpiry(this.loaded.state) : null;
    if (!next) return;
    const delayMs = Math.max(0, Math.min(next.getTime() - this.deps.now().getTime(), 2 ** 31 - 1));
    this.expiryTimer = setTimeout(() => this.tellSelf({ parsed: { name: 'expire' }, reply: () => undefined }), delayMs);
    this.expiryTimer.unref();
  }
}
