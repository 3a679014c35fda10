import { Currency, Decimal, emptyWallet, Grant, LedgerEntry, WalletState } from '@billing/domain';
import { MikroORM } from '@mikro-orm/postgresql';
import { fromEntry, fromGrant, GrantRecord, LedgerRecord, toEntry, toGrant } from './row-mapping';

export interface LoadedWallet {
  readonly state: WalletState;
  /** The wallet row's version; 0 for a wallet that has no row yet. */
  readonly version: number;
}

export interface OutboxMessage {
  readonly eventId: string;
  readonly subject: string;
  readonly payload: string;
}

/** Everything one wallet actor commits for one batch. */
export interface WalletChange {
  readonly orgId: string;
  readonly expectedVersion: number;
  readonly state: WalletState;
  readonly entries: readonly LedgerEntry[];
  /** Grants created or changed by the batch, as they now are. */
  readonly grants: readonly Grant[];
  readonly events: readonly OutboxMessage[];
}

export interface StoredOutboxMessage extends OutboxMessage {
  readonly id: string;
}

/** Another writer committed this wallet first: reload and decide again. */
export class VersionConflictError extends Error {
  constructor(readonly orgId: string) {
    super(`wallet ${orgId} was changed by another writer`);
  }
}

const WALLET_UPSERT = `
insert into wallets (org_id, currency, currency_locked, version, seq, total, created_at, updated_at)
select x.org_id, x.currency, x.currency_locked, x.version, x.seq, x.total, now(), now()
from jsonb_to_recordset(?::jsonb) as x(org_id text, currency text, currency_locked boolean, version int, seq bigint, total numeric)
on conflict (org_id) do update set currency = excluded.currency, currency_locked = excluded.currency_locked,
  version = excluded.version, seq = excluded.seq, total = excluded.total, updated_at = now()
where wallets.version = excluded.version - 1
returning org_id`;

const LEDGER_INSERT = `
insert into ledger_entries (id, org_id, seq, type, amount, currency, split, idempotency_key, request_hash, service,
  workspace_id, resource_id, description, reference, total_after, created_at)
select * from jsonb_to_recordset(?::jsonb) as x(id uuid, org_id text, seq bigint, type text, amount numeric, currency text,
  split jsonb, idempotency_key text, request_hash text, service text, workspace_id text, resource_id text, description text,
  reference text, total_after numeric, created_at timestamptz)`;

const GRANT_UPSERT = `
insert into grants (id, org_id, kind, amount, remaining, currency, service, expires_at, created_at, source_ref)
select * from jsonb_to_recordset(?::jsonb) as x(id uuid, org_id text, kind text, amount numeric, remaining numeric,
  currency text, service text, expires_at timestamptz, created_at timestamptz, source_ref text)
on conflict (id) do update set remaining = excluded.remaining`;

const OUTBOX_INSERT = `
insert into outbox_events (event_id, subject, payload)
select x.event_id, x.subject, x.payload from jsonb_to_recordset(?::jsonb) as x(event_id uuid, subject text, payload text)
returning id, event_id, subject, payload`;

/**
 * The wallet tables. Writes go through `commit`, which applies many wallets' batches in one
 * transaction: one statement per table, whatever the number of wallets and entries.
 */
export class WalletRepository {
  constructor(private readonly orm: MikroORM) {}

  private get connection() {
    return this.orm.em.getConnection();
  }

  /**
   * The hot path talks to knex (MikroORM's own pool) with bound parameters: MikroORM's
   * `execute` would inline and escape each JSON document into the SQL text first.
   */
  private get knex() {
    return this.connection.getKnex();
  }

  async load(orgId: string): Promise<LoadedWallet> {
    const wallets = await this.connection.execute<{ currency: string | null; currency_locked: boolean; version: number; seq: string; total: string }[]>(
      'select currency, currency_locked, version, seq, total from wallets where org_id = ?',
      [orgId],
    );
    if (wallets.length === 0) return { state: emptyWallet(orgId), version: 0 };
    const w = wallets[0];
    // Spent grants never change again, except the newest top-up, which takes any new debt.
    const grants = await this.connection.execute<GrantRecord[]>(
      `select * from grants where org_id = ? and (remaining <> 0 or id = (
         select id from grants where org_id = ? and kind = 'topup' order by created_at desc, id desc limit 1))
       order by created_at, id`,
      [orgId, orgId],
    );
    const state: WalletState = {
      orgId,
      currency: w.currency as Currency | null,
      currencyLocked: w.currency_locked,
      seq: Number(w.seq),
      grants: grants.map(toGrant),
    };
    const held = state.grants.reduce((s, g) => s.plus(g.remaining), new Decimal(0));
    if (!held.equals(w.total)) throw new Error(`wallet ${orgId}: grants hold ${held.toFixed()} but the wallet row says ${w.total}`);
    return { state, version: w.version };
  }

  /** Ledger entries already recorded under these (organization, idempotency key) pairs. */
  async findByIdempotencyKeys(keys: readonly { orgId: string; key: string }[]): Promise<LedgerEntry[]> {
    if (keys.length === 0) return [];
    const result = await this.knex.raw(
      `select l.* from ledger_entries l
       join jsonb_to_recordset(?::jsonb) as k(org_id text, key text) on l.org_id = k.org_id and l.idempotency_key = k.key`,
      [JSON.stringify(keys.map((k) => ({ org_id: k.orgId, key: k.key })))],
    );
    return (result.rows as LedgerRecord[]).map(toEntry);
  }

  /**
   * Commits the changes of many wallets in one transaction. A wallet whose version moved since
   * its actor loaded it is left out (its VersionConflictError is in its slot) and the others
   * are committed without it. Returns, per change, the stored outbox messages or an error.
   */
  async commit(changes: readonly WalletChange[]): Promise<(StoredOutboxMessage[] | Error)[]> {
    const results = new Map<string, StoredOutboxMessage[] | Error>();
    // Lock order by organization, so two processes committing overlapping sets never deadlock.
    let pending = [...changes].sort((a, b) => (a.orgId < b.orgId ? -1 : a.orgId > b.orgId ? 1 : 0));
    while (pending.length > 0) {
      const conflicts = await this.tryCommit(pending, results);
      if (conflicts.length === 0) break;
      for (const orgId of conflicts) results.set(orgId, new VersionConflictError(orgId));
      pending = pending.filter((c) => !results.has(c.orgId));
    }
    return changes.map((c) => results.get(c.orgId) ?? new Error(`no commit result for ${c.orgId}`));
  }

  /** One transaction; returns the conflicting organizations (and commits nothing) if any. */
  private async tryCommit(changes: readonly WalletChange[], results: Map<string, StoredOutboxMessage[] | Error>): Promise<string[]> {
    const trx = await this.knex.transaction();
    try {
      const walletRows = changes.map((c) => ({
        org_id: c.orgId,
        currency: c.state.currency,
        currency_locked: c.state.currencyLocked,
        version: c.expectedVersion + 1,
        seq: c.state.seq,
        total: c.state.grants.reduce((s, g) => s.plus(g.remaining), new Decimal(0)).toFixed(),
      }));
      const updated: { org_id: string }[] = (await trx.raw(WALLET_UPSERT, [JSON.stringify(walletRows)])).rows;
      if (updated.length !== changes.length) {
        await trx.rollback();
        const ok = new Set(updated.map((r) => r.org_id));
        return changes.filter((c) => !ok.has(c.orgId)).map((c) => c.orgId);
      }
      const entries = changes.flatMap((c) => c.entries.map(fromEntry));
      if (entries.length > 0) await trx.raw(LEDGER_INSERT, [JSON.stringify(entries)]);
      const grants = changes.flatMap((c) => c.grants.map((g) => fromGrant(c.orgId, g)));
      if (grants.length > 0) await trx.raw(GRANT_UPSERT, [JSON.stringify(grants)]);
      const events = changes.flatMap((c) => c.events.map((e) => ({ event_id: e.eventId, subject: e.subject, payload: e.payload })));
      const stored: { id: string; event_id: string; subject: string; payload: string }[] = events.length > 0 ? (await trx.raw(OUTBOX_INSERT, [JSON.stringify(events)])).rows : [];
      await trx.commit();
      const byEventId = new Map(stored.map((r) => [r.event_id, { id: String(r.id), eventId: r.event_id, subject: r.subject, payload: r.payload }]));
      for (const c of changes) results.set(c.orgId, c.events.map((e) => byEventId.get(e.eventId)!));
      return [];
    } catch (error) {
      if (!trx.isCompleted()) await trx.rollback().catch(() => undefined);
      throw error;
    }
  }

  async ledgerPage(orgId: string, afterSeq: number, limit: number): Promise<LedgerEntry[]> {
    const rows = await this.connection.execute<LedgerRecord[]>(
      'select * from ledger_entries where org_id = ? and seq > ? order by seq limit ?',
      [orgId, afterSeq, limit],
    );
    return rows.map(toEntry);
  }
}
