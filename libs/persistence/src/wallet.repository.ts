import { Currency, DAY_MS, Decimal, emptyWallet, Grant, LadderOverrides, LedgerEntry, MeterState, ResourceHold, StorageSuspension, totalOf, utcDay, WalletState } from '@billing/domain';
import { Knex } from '@mikro-orm/postgresql';
import { FenceScope } from './partitions';
import { outboxId, Shards, ShardUnavailableError } from './shards';
import { grantRow, holdRow, ledgerRow, meterRow, outboxRow, Row, walletRow } from './commit-codec';
import { GrantRecord, LedgerRecord, toEntry, toGrant } from './row-mapping';
import { DuplicateKeyError, FencedError, InvariantViolationError, VersionConflictError } from './commit-errors';
import { loadLadder, StorageWrite, writeLadder, writeStorage } from './ladder-rows';
import { BudgetWrite, writeBudgets } from './workspace-budget.repository';

export interface LoadedWallet {
  readonly state: WalletState;
  /** The wallet row's version; 0 for a wallet that has no row yet. */
  readonly version: number;
  /**
   * What each resource has been charged per day, keyed `meterKey(resourceId, day)`, for the
   * days that can still change often (today and yesterday); older ones are loaded when needed.
   * Owned by the wallet actor.
   */
  readonly meters: Map<string, MeterState>;
  /** The first day whose meters are all in `meters` (absent there means never charged). */
  readonly metersCompleteFrom: string;
  readonly lowBalanceThresholds: readonly Decimal[];
  /**
   * What each running GPU resource holds, by resource id, as its last committed meter said (in
   * the wallet's currency). Committed with the meters, so a wallet loaded again holds what it
   * held before, without waiting for a tick.
   */
  readonly holds: Map<string, ResourceHold>;
  /** The organization's overrides of the enforcement ladder's settings (null fields: the engine's defaults). */
  readonly ladder: LadderOverrides;
  /** Its running countdown to deleting stored data, if any. */
  readonly storage: StorageSuspension | null;
}

export interface OutboxMessage {
  readonly eventId: string;
  readonly subject: string;
  readonly payload: string;
}

/** One meter per resource and UTC day (YYYY-MM-DD). */
export function meterKey(resourceId: string, day: string): string {
  return `${resourceId}|${day}`;
}

interface MeterRecord {
  resource_id: string;
  day: string;
  charged: string;
  usage_ms: string;
  until: Date | string | null;
  entries: number;
  by_grant: Record<string, string>;
}

function toMeter(m: MeterRecord): MeterState {
  return {
    charged: new Decimal(m.charged),
    usageMs: Number(m.usage_ms),
    until: m.until === null ? null : new Date(m.until),
    entries: m.entries,
    byGrant: new Map(Object.entries(m.by_grant).map(([g, a]) => [g, new Decimal(a)])),
  };
}

const METER_COLUMNS = `m.resource_id, to_char(m.day, 'YYYY-MM-DD') as day, m.charged, m.usage_ms, m.until, m.entries, m.by_grant`;

/** Everything one wallet actor commits for one batch. */
export interface WalletChange {
  readonly orgId: string;
  readonly expectedVersion: number;
  /** The epoch of the organization's partition held by the writer: the commit is fenced by it. */
  readonly epoch: number;
  readonly state: WalletState;
  readonly entries: readonly LedgerEntry[];
  /** Grants created or changed by the batch, as they now are. */
  readonly grants: readonly Grant[];
  /** Meters changed by the batch, as they now are. */
  readonly meters: readonly { readonly resourceId: string; readonly day: string; readonly meter: MeterState }[];
  readonly events: readonly OutboxMessage[];
  /** Holds changed by the batch, as they now are (an amount of zero: nothing held any more). */
  readonly holds?: readonly { readonly resourceId: string; readonly hold: ResourceHold }[];
  /** Control commands the batch decided (their messages are among `events`): recorded as pending. */
  readonly stops?: readonly StopRecord[];
  /** The organization's ladder overrides as `ladder.set` left them. */
  readonly ladder?: LadderOverrides;
  /** What the batch did to the storage countdown. */
  readonly storage?: StorageWrite;
  /** Low-balance thresholds set by the batch's `alerts.set`. */
  readonly lowBalance?: readonly Decimal[];
  /** Workspace caps set (null: removed) by the batch's `budgets.set`s. */
  readonly budgets?: readonly BudgetWrite[];
}

/** A control command as `stop_commands` records it (pending until its resource's STOPPED, or DELETED for `delete_storage`, commits). */
export interface StopRecord {
  readonly commandId: string;
  /** `stop` unless said. */
  readonly command?: 'stop' | 'delete_storage';
  readonly resourceId: string;
  readonly reason: string;
  readonly requestedAt: Date;
}

export interface StoredOutboxMessage extends OutboxMessage {
  readonly id: string;
}

type RefusedCommit = VersionConflictError | DuplicateKeyError | FencedError | InvariantViolationError;

/**
 * The wallet tables. Writes go through `commit`, which applies many wallets' batches in one
 * transaction: one statement per table, whatever the number of wallets and entries.
 */
export class WalletRepository {
  /**
   * `shards`: where each organization's rows are (one database unless SHARDS says otherwise);
   * `scope`: the group of engine processes whose partition epochs fence the commits.
   */
  constructor(private readonly shards: Shards, private readonly scope: FenceScope) {}

  /**
   * The hot path talks to knex (MikroORM's own pool) with bound parameters: MikroORM's
   * `execute` would inline and escape each JSON document into the SQL text first.
   */
  private knexOf(orgId: string): Promise<Knex> {
    return this.shards.knexOf(orgId);
  }

  async load(orgId: string): Promise<LoadedWallet> {
    const knex = await this.knexOf(orgId);
    const wallets = (
      await knex.raw('select currency, currency_locked, version, seq, total, low_balance_thresholds from wallets where org_id = ?', [orgId])
    ).rows as { currency: string | null; currency_locked: boolean; version: string; seq: string; total: string; low_balance_thresholds: string[] }[];
    const yesterday = utcDay(Date.now() - DAY_MS);
    const { ladder, storage } = await loadLadder(knex, orgId);
    if (wallets.length === 0) return { state: emptyWallet(orgId), version: 0, meters: new Map(), metersCompleteFrom: yesterday, lowBalanceThresholds: [], holds: new Map(), ladder, storage };
    const w = wallets[0];
    const meterRows = (await knex.raw(`select ${METER_COLUMNS} from meters m where m.org_id = ? and m.day >= ?::date`, [orgId, yesterday])).rows as MeterRecord[];
    const meters = new Map<string, MeterState>(meterRows.map((m) => [meterKey(m.resource_id, m.day), toMeter(m)]));
    // Spent grants never change again, except the newest top-up (which takes new debt) and
    // those a meter may give a correction back to.
    const grants = (
      await knex.raw(
        `select * from grants where org_id = ? and (remaining <> 0
           or id = (select id from grants where org_id = ? and kind = 'topup' order by created_at desc, id desc limit 1)
           or id in (select jsonb_object_keys(by_grant)::uuid from meters where org_id = ? and day >= ?::date))
         order by created_at, id`,
        [orgId, orgId, orgId, yesterday],
      )
    ).rows as GrantRecord[];
    const state: WalletState = {
      orgId,
      currency: w.currency as Currency | null,
      currencyLocked: w.currency_locked,
      seq: Number(w.seq),
      grants: grants.map(toGrant),
    };
    const inGrants = totalOf(state);
    if (!inGrants.equals(w.total)) throw new Error(`wallet ${orgId}: grants hold ${inGrants.toFixed()} but the wallet row says ${w.total}`);
    const holdRows = (await knex.raw('select resource_id, currency, amount, until from holds where org_id = ?', [orgId])).rows as { resource_id: string; currency: string; amount: string; until: Date | string | null }[];
    // Holds are in the currency of the wallet that committed them, which never changes once set.
    const holds = new Map<string, ResourceHold>(
      holdRows.filter((h) => h.currency === w.currency).map((h) => [h.resource_id, { amount: new Decimal(h.amount), untilMs: h.until === null ? null : new Date(h.until).getTime() }]),
    );
    return { state, version: Number(w.version), meters, metersCompleteFrom: yesterday, lowBalanceThresholds: w.low_balance_thresholds.map((t) => new Decimal(t)), holds, ladder, storage };
  }

  /** Older meters, when a late event changes a day the wallet no longer holds; absent ones are new. */
  async findMeters(orgId: string, keys: readonly { resourceId: string; day: string }[]): Promise<Map<string, MeterState>> {
    if (keys.length === 0) return new Map();
    const rows = (
      await (await this.knexOf(orgId)).raw(
        `select ${METER_COLUMNS} from meters m join jsonb_to_recordset(?::jsonb) as k(resource_id text, day date)
         on m.resource_id = k.resource_id and m.day = k.day where m.org_id = ?`,
        [JSON.stringify(keys.map((k) => ({ resource_id: k.resourceId, day: k.day }))), orgId],
      )
    ).rows as MeterRecord[];
    return new Map(rows.map((m) => [meterKey(m.resource_id, m.day), toMeter(m)]));
  }

  /** Grants by id (spent ones too): those an older meter may give a correction back to. */
  async findGrants(orgId: string, ids: readonly string[]): Promise<Grant[]> {
    if (ids.length === 0) return [];
    const rows = (await (await this.knexOf(orgId)).raw('select * from grants where org_id = ? and id = any(?::uuid[])', [orgId, `{${ids.join(',')}}`])).rows as GrantRecord[];
    return rows.map(toGrant);
  }


  /** Ledger entries already recorded under these (organization, idempotency key) pairs. */
  async findByIdempotencyKeys(keys: readonly { orgId: string; key: string }[]): Promise<LedgerEntry[]> {
    if (keys.length === 0) return [];
    const found = await Promise.all(
      [...this.shards.group(keys, (k) => k.orgId)].map(async ([shard, ks]) => {
        const result = await (await this.shards.knex(shard)).raw(
          `select l.* from ledger_entries l
           join jsonb_to_recordset(?::jsonb) as k(org_id text, key text) on l.org_id = k.org_id and l.idempotency_key = k.key`,
          [JSON.stringify(ks.map((k) => ({ org_id: k.orgId, key: k.key })))],
        );
        return (result.rows as LedgerRecord[]).map(toEntry);
      }),
    );
    return found.flat();
  }

  /**
   * Commits the changes of many wallets in one transaction and one round trip (the
   * `commit_wallet_batch_v4` function). A wallet that is fenced off, whose version moved since its
   * actor loaded it, whose batch repeats an idempotency key already in the ledger, or which breaks
   * an invariant the database checks, is left out (its slot holds the error) and the others are
   * committed without it. Returns, per change, the stored outbox messages or an error.
   */
  async commit(changes: readonly WalletChange[]): Promise<(StoredOutboxMessage[] | Error)[]> {
    const results = new Map<string, StoredOutboxMessage[] | Error>();
    // One transaction per shard, all at once: a shard that cannot be reached fails its own wallets only.
    await Promise.all(
      [...this.shards.group(changes, (c) => c.orgId)].map(async ([shard, group]) => {
        try {
          await this.commitInShard(shard, await this.shards.knex(shard), group, results);
        } catch (error) {
          const unreachable = error instanceof ShardUnavailableError ? error : new ShardUnavailableError(shard, error);
          for (const c of group) if (!results.has(c.orgId)) results.set(c.orgId, unreachable);
        }
      }),
    );
    return changes.map((c) => results.get(c.orgId) ?? new Error(`no commit result for ${c.orgId}`));
  }

  /** The changes of one shard's wallets (the fence is that shard's `partition_epochs` rows, in the same transaction). */
  private async commitInShard(shard: string, knex: Knex, changes: readonly WalletChange[], results: Map<string, StoredOutboxMessage[] | Error>): Promise<void> {
    let pending = [...changes];
    while (pending.length > 0) {
      const refused = await this.tryCommit(shard, knex, pending, results);
      if (refused.length === 0) break;
      for (const error of refused) results.set(error.orgId, error);
      pending = pending.filter((c) => !results.has(c.orgId));
    }
  }

  /**
   * One call of the commit function; if it refused some wallets, nothing was written. Rows go as
   * arrays of values in the positions `commit_wallet_batch_v4` reads them (./commit-codec.ts);
   * money as exact decimal strings.
   */
  private async tryCommit(shard: string, knex: Knex, changes: readonly WalletChange[], results: Map<string, StoredOutboxMessage[] | Error>): Promise<RefusedCommit[]> {
    const wallets: Row[] = [];
    const entries: Row[] = [];
    const grants: Row[] = [];
    const meters: Row[] = [];
    const events: Row[] = [];
    const holds: Row[] = [];
    for (const c of changes) {
      wallets.push(walletRow(c.orgId, c.state, c.expectedVersion, c.epoch));
      for (const e of c.entries) entries.push(ledgerRow(e));
      for (const g of c.grants) grants.push(grantRow(c.orgId, g));
      for (const { resourceId, day, meter } of c.meters) meters.push(meterRow(c.orgId, resourceId, day, meter));
      for (const e of c.events) events.push(outboxRow(e));
      // A wallet with holds to write has a currency: only a metered wallet holds anything.
      if (c.state.currency) for (const { resourceId, hold } of c.holds ?? []) holds.push(holdRow(c.orgId, resourceId, c.state.currency, hold));
    }
    let outcome: { fenced?: string[]; versionConflicts?: string[]; broken?: [string, string][]; duplicateKeys?: [string, string][]; outbox?: [string, string][] };
    const stops = changes.flatMap((c) => (c.stops ?? []).map((x) => [x.commandId, c.orgId, x.resourceId, x.reason, x.requestedAt.toISOString(), x.command ?? 'stop']));
    // Settings and the ladder's rows: written after the commit function, in its transaction, only if it committed every wallet (fenced like the money).
    const extras = changes.filter((c) => c.ladder || c.storage || c.lowBalance || c.budgets?.length);
    const call = async (db: Knex | Knex.Transaction) => {
      const result = await db.raw('select commit_wallet_batch_v4(?, ?::int, ?::jsonb, ?::jsonb, ?::jsonb, ?::jsonb, ?::jsonb, ?::jsonb) as r', [
        this.scope.group,
        this.scope.partitions,
        JSON.stringify(wallets),
        JSON.stringify(entries),
        JSON.stringify(grants),
        JSON.stringify(meters),
        JSON.stringify(events),
        JSON.stringify(holds),
      ]);
      const r = result.rows[0].r as typeof outcome;
      // Recorded only when the whole call committed (a refused call wrote nothing), in its transaction.
      if (r.fenced || r.versionConflicts || r.broken || r.duplicateKeys) return r;
      if (stops.length > 0) {
        await db.raw(
          `insert into stop_commands (command_id, org_id, resource_id, reason, requested_at, command)
           select (x->>0)::uuid, x->>1, x->>2, x->>3, (x->>4)::timestamptz, x->>5 from jsonb_array_elements(?::jsonb) as x
           on conflict (org_id, command_id) do nothing`,
          [JSON.stringify(stops)],
        );
      }
      for (const c of extras) {
        if (c.ladder) await writeLadder(db, c.orgId, c.ladder);
        if (c.storage) await writeStorage(db, c.orgId, c.storage);
        if (c.lowBalance) await db.raw(`update wallets set low_balance_thresholds = ?::jsonb, updated_at = now() where org_id = ?`, [JSON.stringify(c.lowBalance.map((t) => t.toFixed())), c.orgId]);
        if (c.budgets?.length) await writeBudgets(db, c.orgId, c.budgets);
      }
      return r;
    };
    try {
      // A batch with control commands or settings (rare) takes a transaction of its own; the rest stay one round trip.
      outcome = stops.length === 0 && extras.length === 0 ? await call(knex) : await knex.transaction((trx) => call(trx));
    } catch (error) {
      // A first commit of a wallet raced another writer's (40001 from the function, or 23505 from
      // a key inserted meanwhile): which wallet is unknown, so each is tried on its own.
      const code = (error as { code?: string }).code;
      if (code !== '40001' && code !== '23505') throw error;
      if (changes.length === 1) return [new VersionConflictError(changes[0].orgId)];
      for (const c of changes) await this.commitInShard(shard, knex, [c], results);
      return [];
    }
    if (outcome.fenced) return [...new Set(outcome.fenced)].map((orgId) => new FencedError(orgId));
    if (outcome.versionConflicts) return outcome.versionConflicts.map((orgId) => new VersionConflictError(orgId));
    if (outcome.broken) {
      const reasons = new Map<string, string[]>();
      for (const [orgId, reason] of outcome.broken) reasons.set(orgId, [...(reasons.get(orgId) ?? []), reason]);
      return [...reasons].map(([orgId, r]) => new InvariantViolationError(orgId, [...new Set(r)].join('; ')));
    }
    if (outcome.duplicateKeys) {
      const keys = new Map<string, string[]>();
      for (const [orgId, key] of outcome.duplicateKeys) keys.set(orgId, [...(keys.get(orgId) ?? []), key]);
      return [...keys].map(([orgId, k]) => new DuplicateKeyError(orgId, k));
    }
    const idByEvent = new Map((outcome.outbox ?? []).map(([id, eventId]) => [eventId, id]));
    for (const c of changes) results.set(c.orgId, c.events.map((e) => ({ ...e, id: outboxId(shard, idByEvent.get(e.eventId)!) })));
    return [];
  }

  async ledgerPage(orgId: string, afterSeq: number, limit: number): Promise<LedgerEntry[]> {
    const rows = (await (await this.knexOf(orgId)).raw('select * from ledger_entries where org_id = ? and seq > ? order by seq limit ?', [orgId, afterSeq, limit])).rows as LedgerRecord[];
    return rows.map(toEntry);
  }
}
