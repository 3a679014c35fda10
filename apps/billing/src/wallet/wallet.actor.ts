import { Behavior } from '@billing/actors';
import { balanceSnapshot, BalanceSnapshot, ErrorCode, errorReply, EventMessage, Subjects } from '@billing/contracts';
import {
  balanceOf,
  DAY_MS,
  Decimal,
  EMPTY_METER,
  Grant,
  LadderSettings,
  ladderSettings,
  LedgerEntry,
  MeterState,
  nextExpiry,
  PriceBook,
  pruneSpentGrants,
  totalBurnRatePerHour,
  spendAfter,
  StorageSuspension,
  storageNextDue,
  remindersOf,
  utcDay,
  utcMonth,
  WalletState,
} from '@billing/domain';
import {
  BudgetWrite,
  DuplicateKeyError,
  FencedError,
  InvariantViolationError,
  LoadedWallet,
  meterKey,
  StoredOutboxMessage,
  VersionConflictError,
  WalletChange,
} from '@billing/persistence';
import { BatchContext, BatchResult, Burning, decideBatch, Holds } from './wallet-batch';
import { balanceEvent, EventContext } from './wallet-events';
import { applyHolds, burningAfter, changeOf, heldOf } from './wallet-change';
import { WalletMessage } from './wallet-message';
import { BudgetBook, budgetSetRefusal } from './wallet-budgets';
import { storageDueAt, StoredResource } from './wallet-ladder';

/** How often a batch is decided again after another writer committed the same wallet first. */
export const MAX_CONFLICT_RETRIES = 3;
/** Decisions of one batch at most: conflicts, plus looking up keys already in the ledger (a replay). */
const MAX_DECISIONS = MAX_CONFLICT_RETRIES + 3;

export interface WalletActorDeps {
  readonly subjects: Subjects;
  /** The database the organization's rows are in, named in an UNAVAILABLE reply when there are several (SHARDS); null with one. */
  readonly shardOf?: (orgId: string) => string | null;
  readonly now: () => Date;
  readonly load: (orgId: string) => Promise<LoadedWallet>;
  readonly findMeters: (orgId: string, keys: { resourceId: string; day: string }[]) => Promise<Map<string, MeterState>>;
  readonly findGrants: (orgId: string, ids: string[]) => Promise<Grant[]>;
  readonly findByKeys: (orgId: string, keys: string[]) => Promise<LedgerEntry[]>;
  readonly commit: (change: WalletChange) => Promise<StoredOutboxMessage[]>;
  readonly published: (messages: StoredOutboxMessage[]) => void;
  /** Publishes a live `balance` event (core NATS: no store, no acknowledgement). */
  readonly announce: (message: EventMessage) => void;
  /** Workspace caps and what each workspace was charged in `month` (UTC, YYYY-MM), from the ledger. */
  readonly loadBudgets: (orgId: string, month: string) => Promise<BudgetBook>;
  readonly prices: () => PriceBook;
  /** The epoch this process holds the organization's partition with, or null if it does not serve it (now). */
  readonly fence: (orgId: string) => number | null;
  /** A commit was fenced off: another process took the partition. */
  readonly fenced: (orgId: string) => void;
  /** A `grant_expiring` notice goes out this long before a grant with credit left expires. */
  readonly expiryNoticeMs: number;
  /** The enforcement ladder's defaults; each organization's overrides are loaded with its wallet. */
  readonly ladder: LadderSettings;
  /** The organization's resources with storage, not deleted (what a due deletion covers). */
  readonly storedResources: (orgId: string) => Promise<StoredResource[]>;
}

/** The store could not be reached: nothing of the batch is known to be committed. */
export class StoreUnavailableError extends Error {}

const UNSERVED = errorReply(ErrorCode.UNAVAILABLE, 'this organization is moving between engine processes; nothing is confirmed; retry with the same idempotency key');

/**
 * The only writer of one organization's wallet: it decides money only. Decides a whole batch on
 * its in-memory state, commits it (with every other actor's batch of the moment) in one
 * transaction fenced by its partition's epoch, and only then answers. The state it keeps is
 * always the committed one.
 */
export class WalletActor implements Behavior<WalletMessage> {
  private loaded: LoadedWallet | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  /** Resources that burn, by id, as their meters said (resource actors meter them every tick). */
  private readonly burning = new Map<string, Burning>();
  /** The instant of the last batch committed: the next one is decided later, even if the clock stepped back. */
  private lastCommitMs = 0;
  /** Workspace caps and month-to-date spend, read with the wallet and moved by each commit. */
  private budgets: BudgetBook = { caps: new Map(), spend: { month: '', byWorkspace: new Map() } };
  private readonly batchContext: BatchContext;
  private readonly eventContext: EventContext;

  constructor(
    private readonly orgId: string,
    private readonly deps: WalletActorDeps,
    /** Lets the actor schedule its own expiry run. */
    private readonly tellSelf: (message: WalletMessage) => void,
  ) {
    const snapshot = (state: WalletState, holds: Holds) => this.snapshot(state, holds);
    this.batchContext = { snapshot, prices: () => this.deps.prices(), expiryNoticeMs: deps.expiryNoticeMs, budgets: () => this.budgets, ladderDefaults: deps.ladder };
    this.eventContext = { orgId, subjects: deps.subjects, burning: this.burning };
  }

  async receive(batch: WalletMessage[]): Promise<void> {
    // Keys are looked up in the ledger only when the commit said one is there already, or when a
    // command was refused (it may be a replay of one that succeeded before things changed).
    let prior: LedgerEntry[] = [];
    const lookedUp = new Set<string>();
    for (let attempt = 0; attempt < MAX_DECISIONS; attempt++) {
      const epoch = this.deps.fence(this.orgId);
      if (epoch === null) {
        this.loaded = null;
        for (const m of batch) m.reply(UNSERVED);
        return;
      }
      if (!this.loaded) {
        this.loaded = await this.reachStore(this.deps.load(this.orgId));
        this.budgets = await this.reachStore(this.deps.loadBudgets(this.orgId, utcMonth(this.instant().getTime())));
        // A process that committed the last batch may have died before announcing it.
        const { seq } = this.loaded.state;
        if (seq > 0) this.deps.announce(balanceEvent(this.eventContext, this.snapshot(this.loaded.state, this.loaded.holds), seq));
        this.scheduleExpiry();
      }
      const now = this.instant();
      // Settings take effect for the batch's own decisions and are written in its commit (fenced like its money).
      const budgetWrites = this.applyBudgets(batch, this.loaded);
      const lowBalance = lowBalanceSet(batch);
      const wallet = (this.loaded = await this.ensureMeters(batch, lowBalance ? { ...this.loaded, lowBalanceThresholds: lowBalance } : this.loaded));
      const result = decideBatch(this.batchContext, wallet, batch, prior, now);
      // A reminder or the deletion of a storage countdown is due: a batch to commit, though nothing else moved.
      const due = storageDueAt(wallet.storage, this.settings(wallet), now);
      const storedResources = due?.delete ? await this.reachStore(this.deps.storedResources(this.orgId)) : null;
      const unknown = result.refusedKeys.filter((k) => !lookedUp.has(k));
      if (unknown.length > 0) {
        for (const k of unknown) lookedUp.add(k);
        const found = await this.reachStore(this.deps.findByKeys(this.orgId, unknown));
        if (found.length > 0) {
          prior = [...prior, ...found];
          continue;
        }
      }
      const settingsOnly = { ...(lowBalance ? { lowBalance } : {}), ...(budgetWrites.length > 0 ? { budgets: budgetWrites } : {}) };
      if (result.entries.length === 0 && result.notices.length === 0 && result.meters.size === 0 && result.holds.size === 0 && result.ladder === null && due === null && !lowBalance && budgetWrites.length === 0) {
        this.rememberAndAnswer(wallet, result);
        return;
      }
      let stored: StoredOutboxMessage[];
      const { change, announcement, storage } = changeOf(
        { subjects: this.deps.subjects, events: this.eventContext, ladder: { defaults: this.deps.ladder, stored: storedResources }, budgets: this.budgets, snapshot: (state, holds, burning, at, ladder) => this.snapshot(state, holds, burning, at, ladder) },
        wallet,
        result,
        epoch,
      );
      try {
        stored = await this.deps.commit({ ...change, ...settingsOnly });
      } catch (error) {
        if (error instanceof VersionConflictError) {
          // Read again, settings too: what this attempt set in memory was not committed.
          this.loaded = null;
          continue;
        }
        if (error instanceof DuplicateKeyError) {
          const clientKeys = new Set(batch.flatMap((m) => ('command' in m.parsed ? [m.parsed.command.idempotencyKey] : [])));
          // The engine's own keys are unique by construction: one already there is a bug, and the
          // actor starts again from the database rather than answer CONFLICT for ever.
          const engineKeys = error.keys.filter((k) => !clientKeys.has(k));
          if (engineKeys.length > 0) throw new Error(`wallet ${this.orgId}: engine keys already in the ledger: ${engineKeys.join(', ')}`);
          prior = [...prior, ...(await this.reachStore(this.deps.findByKeys(this.orgId, [...error.keys])))];
          continue;
        }
        if (error instanceof FencedError) {
          this.loaded = null;
          this.deps.fenced(this.orgId);
          for (const m of batch) m.reply(UNSERVED);
          return;
        }
        if (error instanceof InvariantViolationError) throw error;
        throw new StoreUnavailableError(String((error as Error)?.message ?? error));
      }
      const keep = new Set<string>();
      for (const [key, { meter }] of result.meters) wallet.meters.set(key, meter);
      applyHolds(wallet.holds, result.holds);
      for (const m of wallet.meters.values()) for (const g of m.byGrant.keys()) keep.add(g);
      this.loaded = { ...wallet, state: pruneSpentGrants(result.state, keep), version: wallet.version + 1, ladder: result.ladder ?? wallet.ladder, storage };
      this.lastCommitMs = now.getTime();
      this.budgets = { ...this.budgets, spend: spendAfter(this.budgets.spend, result.entries, now.getTime()) };
      this.deps.published(stored);
      if (announcement) this.deps.announce(announcement);
      this.rememberAndAnswer(this.loaded, result);
      this.scheduleExpiry();
      return;
    }
    // Nothing of the batch committed: settings it set in memory (thresholds, caps) go with the wallet, read again next time.
    this.loaded = null;
    for (const m of batch) m.reply(errorReply(ErrorCode.CONFLICT, 'the wallet kept changing under another writer; retry with the same idempotency key'));
  }

  onCrash(batch: WalletMessage[], error: unknown): void {
    const reply =
      error instanceof StoreUnavailableError
        ? errorReply(ErrorCode.UNAVAILABLE, `the ledger${this.shardNamed()} could not be reached; nothing is confirmed; retry with the same idempotency key`)
        : errorReply(ErrorCode.INTERNAL, 'internal error; the wallet was reloaded; retry with the same idempotency key');
    for (const m of batch) m.reply(reply);
  }

  restart(): void {
    this.loaded = null;
  }

  /** ` (shard b)`, when the ledger is split over several databases. */
  private shardNamed(): string {
    const shard = this.deps.shardOf?.(this.orgId) ?? null;
    return shard === null ? '' : ` (shard ${shard})`;
  }

  stop(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
  }

  private snapshot(
    state: WalletState,
    holds: Holds,
    burning: ReadonlyMap<string, Burning> = this.burning,
    at: Date = this.deps.now(),
    ladder: { settings: LadderSettings; storage: StorageSuspension | null } | undefined = this.loaded ? { settings: this.settings(this.loaded), storage: this.loaded.storage } : undefined,
  ): BalanceSnapshot {
    return balanceSnapshot({
      ladder,
      held: heldOf(holds),
      orgId: this.orgId,
      seq: state.seq,
      currency: state.currency,
      balance: balanceOf(state),
      burnRatePerHour: totalBurnRatePerHour([...burning.values()].map((b) => b.charge), state.currency),
      grants: state.grants,
      at,
      lowBalanceThresholds: this.loaded?.lowBalanceThresholds,
    });
  }

  /** The organization's ladder settings in force: the engine's defaults with its overrides. */
  private settings(wallet: LoadedWallet): LadderSettings {
    return ladderSettings(this.deps.ladder, wallet.ladder);
  }

  /** Awaits a call to the store: whatever it fails with means the store could not be reached. */
  private async reachStore<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (error) {
      throw new StoreUnavailableError(String((error as Error)?.message ?? error));
    }
  }

  /**
   * Workspace caps are settings: each `budgets.set` the batch's decision will accept takes effect
   * for it (in memory) and is returned, to be written in its commit. A commit that fails reads the
   * wallet, and its caps, again.
   */
  private applyBudgets(batch: WalletMessage[], wallet: LoadedWallet): BudgetWrite[] {
    const { currency } = wallet.state;
    const writes: BudgetWrite[] = [];
    for (const { parsed } of batch) {
      if (parsed.name !== 'budgets.set' || budgetSetRefusal(this.budgets, currency, parsed.workspaceId, parsed.monthlyCap, parsed.currency) !== null) continue;
      const caps = new Map(this.budgets.caps);
      if (parsed.monthlyCap === null) caps.delete(parsed.workspaceId);
      // Not refused: the wallet has a currency.
      else caps.set(parsed.workspaceId, { cap: parsed.monthlyCap, currency: currency! });
      writes.push({ workspaceId: parsed.workspaceId, cap: parsed.monthlyCap, currency: currency ?? 'USD' });
      this.budgets = { ...this.budgets, caps };
    }
    return writes;
  }

  /**
   * Meters of days the wallet no longer holds in memory (a late event about an old day) are read
   * before deciding, with the spent grants they may give a correction back to.
   */
  private async ensureMeters(batch: WalletMessage[], wallet: LoadedWallet): Promise<LoadedWallet> {
    const missing: { resourceId: string; day: string }[] = [];
    for (const { parsed } of batch) {
      if (parsed.name !== 'meter') continue;
      const { resourceId, days } = parsed.charge;
      for (const { day } of days) if (day < wallet.metersCompleteFrom && !wallet.meters.has(meterKey(resourceId, day))) missing.push({ resourceId, day });
    }
    if (missing.length === 0) return wallet;
    const found = await this.reachStore(this.deps.findMeters(this.orgId, missing));
    for (const k of missing) wallet.meters.set(meterKey(k.resourceId, k.day), found.get(meterKey(k.resourceId, k.day)) ?? EMPTY_METER);
    const held = new Set(wallet.state.grants.map((g) => g.id));
    const grantIds = [...new Set([...found.values()].flatMap((m) => [...m.byGrant.keys()]))].filter((id) => !held.has(id));
    if (grantIds.length === 0) return wallet;
    const grants = await this.reachStore(this.deps.findGrants(this.orgId, grantIds));
    return { ...wallet, state: { ...wallet.state, grants: [...wallet.state.grants, ...grants] } };
  }

  /**
   * The instant a batch is decided at: now, or just after the last committed batch if the clock
   * says otherwise (stepped back, or the same millisecond). One batch, one instant, and a later
   * batch a later one: the ledger's times follow its order, and a batch can be told from the next
   * by its instant alone.
   */
  private instant(): Date {
    const now = this.deps.now();
    return now.getTime() > this.lastCommitMs ? now : new Date(this.lastCommitMs + 1);
  }

  /** Keeps what the batch said about burning resources, lets old meters go, and answers each message on `wallet`'s state. */
  private rememberAndAnswer(wallet: LoadedWallet, result: BatchResult): void {
    burningAfter(this.burning, result.burning);
    this.forgetOldMeters(wallet, result.now.getTime());
    for (const o of result.outcomes) o.message.reply(o.body(wallet.state, wallet.holds));
  }

  /** Days before yesterday rarely change again: their meters leave memory (read back if a late event needs them). */
  private forgetOldMeters(wallet: LoadedWallet, nowMs: number): void {
    const yesterday = utcDay(nowMs - DAY_MS);
    if (wallet.metersCompleteFrom >= yesterday) return;
    for (const key of wallet.meters.keys()) if (key.slice(key.lastIndexOf('|') + 1) < yesterday) wallet.meters.delete(key);
    this.loaded = { ...(this.loaded ?? wallet), metersCompleteFrom: yesterday };
  }

  /**
   * Expiry, and a storage countdown's reminders and deletion, happen on time even when nothing is
   * charged: the actor wakes itself at the next one.
   */
  private scheduleExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    const expiry = this.loaded ? nextExpiry(this.loaded.state, this.deps.expiryNoticeMs) : null;
    const storage = this.loaded?.storage && !this.loaded.storage.deletionRequestedAt ? storageNextDue(this.loaded.storage, remindersOf(this.settings(this.loaded), this.loaded.storage.deleteAt.getTime() - this.loaded.storage.scheduledAt.getTime())) : null;
    const next = expiry && storage ? (expiry < storage ? expiry : storage) : (expiry ?? storage);
    if (!next) return;
    const delayMs = Math.max(0, Math.min(next.getTime() - this.deps.now().getTime(), 2 ** 31 - 1));
    this.expiryTimer = setTimeout(() => this.tellSelf({ parsed: { name: 'expire' }, reply: () => undefined }), delayMs);
    this.expiryTimer.unref();
  }
}

/** The low-balance thresholds the batch's last `alerts.set` sets, or null: they take effect for the batch's crossings and are written in its commit. */
function lowBalanceSet(batch: WalletMessage[]): Decimal[] | null {
  for (let i = batch.length - 1; i >= 0; i--) {
    const parsed = batch[i].parsed;
    if (parsed.name === 'alerts.set') return parsed.lowBalance;
  }
  return null;
}
