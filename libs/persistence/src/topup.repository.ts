import { Knex, MikroORM } from '@mikro-orm/postgresql';
import { Currency, Decimal, LedgerChange, Settlement, SettlementFact, SettlementInput, SettlementView } from '@billing/domain';
import { TopupProvider, TopupStatus } from './entities/topup-intent.entity';

/** Kept of a failure reason or a refusal: enough to diagnose, bounded whatever a provider sends. */
export const MAX_TOPUP_REASON_CHARS = 500;

export interface NewTopupIntent {
  readonly id: string;
  readonly orgId: string;
  readonly amount: Decimal;
  readonly currency: Currency;
  readonly provider: TopupProvider;
  readonly providerRef: string;
  /** When its provider's payment window closes. */
  readonly expiresAt: Date;
}

export interface TopupIntent extends NewTopupIntent {
  readonly captureRef: string | null;
  readonly status: TopupStatus;
  readonly createdAt: Date;
  readonly settledAt: Date | null;
  readonly failureReason: string | null;
  readonly creditedAt: Date | null;
  readonly creditError: string | null;
  readonly reversalConfirmedAt: Date | null;
  /** The facts its provider reported and the ledger changes they made (appended only). */
  readonly settlement: Settlement;
  /** How many of `settlement.changes` the engine confirmed: always the first ones. */
  readonly changesConfirmed: number;
  /** The compare-and-set guard of settlement writes. */
  readonly version: number;
  readonly updatedAt: Date;
  /** The reconciliation job's bookkeeping: how often its provider was asked, when last, and what came of it. */
  readonly reconcileAttempts: number;
  readonly reconciledAt: Date | null;
  readonly reconcileOutcome: string | null;
}

/** Pending top-ups of one provider, for the metrics. */
export interface PendingSummary {
  readonly provider: TopupProvider;
  readonly pending: number;
  /** How long the oldest has been pending, in seconds (0 when none is). */
  readonly oldestSeconds: number;
  /** Those pending longer than the reconciliation's threshold. */
  readonly overdue: number;
}

/** Which top-ups the mismatch report reads, newest first. */
export interface TopupScan {
  readonly since: Date;
  readonly orgId: string | null;
  readonly provider: TopupProvider | null;
  /** The last top-up of the previous page (its `created_at` and id). */
  readonly before: { readonly createdAt: Date; readonly id: string } | null;
  readonly limit: number;
}

/** A ledger entry under a payment's key whose top-up this table does not have. */
export interface OrphanLedgerEntry {
  readonly orgId: string;
  readonly idempotencyKey: string;
  readonly type: string;
  readonly amount: string;
  readonly currency: string;
  readonly at: Date;
}


export interface TopupIntentRecord {
  id: string;
  org_id: string;
  amount: string;
  currency: string;
  provider: string;
  provider_ref: string;
  capture_ref: string | null;
  status: string;
  created_at: Date | string;
  settled_at: Date | string | null;
  failure_reason: string | null;
  credited_at: Date | string | null;
  credit_error: string | null;
  reversal_confirmed_at: Date | string | null;
  settlement_facts: unknown[];
  ledger_changes: unknown[];
  ledger_changes_confirmed: number;
  version: number;
  updated_at: Date | string;
  expires_at: Date | string | null;
  reconcile_attempts: number;
  reconciled_at: Date | string | null;
  reconcile_outcome: string | null;
}

// MikroORM's pg driver hands timestamps back as strings.
const date = (v: Date | string) => (v instanceof Date ? v : new Date(v));
const maybeDate = (v: Date | string | null) => (v === null ? null : date(v));

/** A `topup_intents` row as read with SQL. */
export function toIntent(r: TopupIntentRecord): TopupIntent {
  return {
    id: r.id,
    orgId: r.org_id,
    amount: new Decimal(r.amount),
    currency: r.currency as Currency,
    provider: r.provider as TopupProvider,
    providerRef: r.provider_ref,
    expiresAt: maybeDate(r.expires_at) ?? date(r.created_at),
    captureRef: r.capture_ref,
    status: r.status as TopupStatus,
    createdAt: date(r.created_at),
    settledAt: maybeDate(r.settled_at),
    failureReason: r.failure_reason,
    creditedAt: maybeDate(r.credited_at),
    creditError: r.credit_error,
    reversalConfirmedAt: maybeDate(r.reversal_confirmed_at),
    settlement: { topupId: r.id, facts: r.settlement_facts.map(factFromJson), changes: r.ledger_changes.map(changeFromJson) },
    changesConfirmed: Number(r.ledger_changes_confirmed),
    version: Number(r.version),
    updatedAt: date(r.updated_at),
    reconcileAttempts: Number(r.reconcile_attempts ?? 0),
    reconciledAt: maybeDate(r.reconciled_at ?? null),
    reconcileOutcome: r.reconcile_outcome ?? null,
  };
}

type Json = Record<string, unknown>;
const decimalOrNull = (v: unknown) => (v === null || v === undefined ? null : new Decimal(String(v)));
const textOrNull = (v: unknown) => (typeof v === 'string' ? v : null);

/** Facts are stored as JSON with amounts as exact decimal strings and times as ISO-8601. */
export function factToJson(fact: SettlementFact): Json {
  const input: Json = { ...fact.input };
  for (const field of ['amount', 'total'] as const) {
    const v = input[field];
    if (Decimal.isDecimal(v)) input[field] = (v as Decimal).toFixed();
  }
  return { key: fact.key, at: fact.at?.toISOString() ?? null, input };
}

export function factFromJson(raw: unknown): SettlementFact {
  const j = raw as Json;
  const i = j.input as Json;
  const at = typeof j.at === 'string' ? new Date(j.at) : null;
  let input: SettlementInput;
  switch (i.kind) {
    case 'captured':
      input = { kind: 'captured', amount: new Decimal(String(i.amount)), captureRef: textOrNull(i.captureRef) };
      break;
    case 'approved':
      input = { kind: 'approved' };
      break;
    case 'attempt_failed':
    case 'canceled':
    case 'expired':
      input = { kind: i.kind, reason: String(i.reason ?? '') };
      break;
    case 'refund':
      input = { kind: 'refund', refundId: textOrNull(i.refundId), amount: decimalOrNull(i.amount), counts: i.counts === true, total: decimalOrNull(i.total) };
      break;
    case 'dispute':
      input = { kind: 'dispute', disputeId: String(i.disputeId), amount: new Decimal(String(i.amount)), stage: i.stage as 'inquiry' | 'open' | 'lost' | 'won' };
      break;
    case 'reversal':
      input = { kind: 'reversal', reversalId: String(i.reversalId), amount: new Decimal(String(i.amount)) };
      break;
    default:
      throw new Error(`a stored settlement fact of unknown kind ${String(i.kind)}`);
  }
  return { key: String(j.key), at, input };
}

export function changeToJson(c: LedgerChange): Json {
  return { seq: c.seq, kind: c.kind, amount: c.amount.toFixed(), idempotencyKey: c.idempotencyKey, cause: c.cause, reason: c.reason };
}

export function changeFromJson(raw: unknown): LedgerChange {
  const j = raw as Json;
  return { seq: Number(j.seq), kind: j.kind === 'reversal' ? 'reversal' : 'credit', amount: new Decimal(String(j.amount)), idempotencyKey: String(j.idempotencyKey), cause: String(j.cause), reason: String(j.reason ?? '') };
}

const reason = (text: string) => text.slice(0, MAX_TOPUP_REASON_CHARS);

/** A payment's ledger key: `topup:` or `reverse:`, the top-up's id, maybe `:<n>`. */
const PAYMENT_KEY = '^(topup|reverse):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(:|$)';

/** The statuses whose top-ups count against the daily limit: all but those that took no money and never will. */
const COUNTED_STATUSES = `status not in ('failed', 'expired')`;

/**
 * Top-up intents. Every settlement change is one `update ... where version = <read> returning *`:
 * of any number of concurrent writers exactly one gets the row back, the others get null, change
 * nothing, and start again from what the winner wrote. The one transaction (`createPending`'s,
 * to hold the daily limit against concurrent starts) makes no call outside the database, so none
 * is ever held across a call to a provider or to the engine.
 */
export class TopupRepository {
  constructor(private readonly orm: MikroORM) {}

  private get knex() {
    return this.orm.em.getConnection().getKnex();
  }

  private async one(sql: string, bindings: readonly (string | null)[]): Promise<TopupIntent | null> {
    const rows = (await this.knex.raw(sql, bindings)).rows as TopupIntentRecord[];
    return rows.length ? toIntent(rows[0]) : null;
  }

  /**
   * Records a pending top-up started at `createdAt` (the time the provider was given: VNPAY's
   * vnp_CreateDate, which its querydr asks for), unless the organization's top-ups in its currency
   * started in the 24 hours before, with this one, would go past `dailyMax`: then nothing is
   * written and what was already started is returned. A transaction-scoped advisory lock per
   * organization and currency makes concurrent starts take their turns, so the limit holds.
   */
  async createPending(intent: NewTopupIntent, createdAt: Date, daily: { readonly dailyMax: Decimal; readonly windowMs: number }): Promise<{ created: TopupIntent } | { refused: Decimal }> {
    return this.knex.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`topup-daily:${intent.orgId}:${intent.currency}`]);
      const started = await this.startedSince(intent.orgId, intent.currency, new Date(createdAt.getTime() - daily.windowMs), trx);
      if (started.plus(intent.amount).greaterThan(daily.dailyMax)) return { refused: started };
      const rows = (
        await trx.raw(
          `insert into topup_intents (id, org_id, amount, currency, provider, provider_ref, status, created_at, updated_at, expires_at)
           values (?, ?, ?, ?, ?, ?, 'pending', ?, now(), ?) returning *`,
          [intent.id, intent.orgId, intent.amount.toFixed(), intent.currency, intent.provider, intent.providerRef, createdAt, intent.expiresAt],
        )
      ).rows as TopupIntentRecord[];
      return { created: toIntent(rows[0]) };
    });
  }

  /** What an organization started in `currency` since `since`, failed and expired top-ups left out. */
  async startedSince(orgId: string, currency: Currency, since: Date, knex: Knex | Knex.Transaction = this.knex): Promise<Decimal> {
    const rows = (await knex.raw(`select coalesce(sum(amount), 0)::text as total from topup_intents where org_id = ? and currency = ? and created_at > ? and ${COUNTED_STATUSES}`, [orgId, currency, since])).rows as { total: string }[];
    return new Decimal(rows[0].total);
  }

  findById(id: string): Promise<TopupIntent | null> {
    return this.one('select * from topup_intents where id = ?', [id]);
  }

  findByProviderRef(provider: TopupProvider, providerRef: string): Promise<TopupIntent | null> {
    return this.one('select * from topup_intents where provider = ? and provider_ref = ?', [provider, providerRef]);
  }

  findByCaptureRef(provider: TopupProvider, captureRef: string): Promise<TopupIntent | null> {
    return this.one('select * from topup_intents where provider = ? and capture_ref = ?', [provider, captureRef]);
  }

  /**
   * Stores a settlement the machine computed from `expectedVersion`, by one compare-and-set:
   * null if another writer got there first (the caller reloads and applies its fact again).
   * `settled_at` is the first time the status left pending.
   */
  saveSettlement(id: string, expectedVersion: number, settlement: Settlement, view: SettlementView): Promise<TopupIntent | null> {
    return this.one(
      `update topup_intents set settlement_facts = ?::jsonb, ledger_changes = ?::jsonb, status = ?, failure_reason = ?, capture_ref = coalesce(?, capture_ref),
         settled_at = case when ? = 'pending' then settled_at else coalesce(settled_at, now()) end, version = version + 1, updated_at = now()
       where id = ? and version = ? returning *`,
      [
        JSON.stringify(settlement.facts.map(factToJson)),
        JSON.stringify(settlement.changes.map(changeToJson)),
        view.status,
        view.reason === null ? null : reason(view.reason),
        view.captureRef,
        view.status,
        id,
        String(expectedVersion),
      ],
    );
  }

  /** The engine confirmed the first `count` ledger changes (the first is the credit); never goes back. */
  async markChangesConfirmed(id: string, count: number): Promise<void> {
    await this.knex.raw(
      `update topup_intents set ledger_changes_confirmed = greatest(ledger_changes_confirmed, ?), credited_at = case when ? >= 1 then coalesce(credited_at, now()) else credited_at end where id = ?`,
      [count, count, id],
    );
  }

  /** The engine refused a change for good (not a passing failure): nothing past it is sent, no sweep retries it. */
  async markLedgerRefused(id: string, error: string): Promise<void> {
    await this.knex.raw('update topup_intents set credit_error = ? where id = ? and credit_error is null', [reason(error), id]);
  }

  /**
   * Intents with ledger changes the engine has not confirmed and has not refused, last changed
   * at least `minAgeMs` ago (younger ones are probably still being sent by their webhook), oldest first.
   */
  async unsent(minAgeMs: number, limit: number): Promise<TopupIntent[]> {
    const rows = (
      await this.knex.raw(
        `select * from topup_intents
         where ledger_changes_confirmed < jsonb_array_length(ledger_changes) and credit_error is null
           and updated_at <= now() - (? * interval '1 millisecond')
         order by updated_at limit ?`,
        [minAgeMs, limit],
      )
    ).rows as TopupIntentRecord[];
    return rows.map(toIntent);
  }

  /**
   * A currency an organization has paid in that the engine has not credited yet (so the
   * wallet does not show it): a top-up in another currency would be refused at credit time.
   */
  async uncreditedCurrency(orgId: string): Promise<Currency | null> {
    const rows = (
      await this.knex.raw(
        `select currency from topup_intents where org_id = ? and credited_at is null and credit_error is null and jsonb_array_length(ledger_changes) > 0 order by updated_at limit 1`,
        [orgId],
      )
    ).rows as { currency: string }[];
    return rows.length ? (rows[0].currency as Currency) : null;
  }

  /**
   * Claims up to `limit` top-ups pending for at least `afterMs` that are due (never asked, or
   * their `reconcile_at` passed) and that no gateway holds: each is leased for `leaseMs`. `for
   * update skip locked` lets gateways claiming at the same moment take different rows, and the
   * lease keeps the rows from others once this statement commits. The version is not touched:
   * a webhook settling a claimed row meanwhile wins its compare-and-set as usual.
   */
  async claimForReconciliation(afterMs: number, leaseMs: number, limit: number): Promise<TopupIntent[]> {
    const rows = (
      await this.knex.raw(
        `with due as (
           select id from topup_intents
            where status = 'pending' and created_at <= now() - (? * interval '1 millisecond')
              and coalesce(reconcile_at, '-infinity') <= now() and coalesce(reconcile_lease_until, '-infinity') <= now()
            order by coalesce(reconcile_at, created_at), id
            limit ? for update skip locked)
         update topup_intents t set reconcile_lease_until = now() + (? * interval '1 millisecond'), reconcile_attempts = t.reconcile_attempts + 1
           from due where t.id = due.id
         returning t.*`,
        [afterMs, limit, leaseMs],
      )
    ).rows as TopupIntentRecord[];
    return rows.map(toIntent);
  }

  /** Ends a claim: what the provider's answer came to, and when to ask again (if it is still pending then). */
  async releaseReconciliation(id: string, outcome: string, next: Date): Promise<void> {
    await this.knex.raw('update topup_intents set reconcile_lease_until = null, reconciled_at = now(), reconcile_outcome = ?, reconcile_at = ? where id = ?', [reason(outcome), next, id]);
  }

  /** Pending top-ups per provider: how many, how old the oldest, how many past `overdueMs`. */
  async pendingSummary(overdueMs: number): Promise<PendingSummary[]> {
    const rows = (
      await this.knex.raw(
        `select provider, count(*)::int as pending, coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as oldest_seconds,
                (count(*) filter (where created_at <= now() - (? * interval '1 millisecond')))::int as overdue
           from topup_intents where status = 'pending' group by provider`,
        [overdueMs],
      )
    ).rows as { provider: TopupProvider; pending: number; oldest_seconds: number; overdue: number }[];
    return rows.map((r) => ({ provider: r.provider, pending: Number(r.pending), oldestSeconds: Math.max(0, Number(r.oldest_seconds)), overdue: Number(r.overdue) }));
  }

  /** Top-ups started since `scan.since`, newest first, a page at a time. */
  async scan(scan: TopupScan): Promise<TopupIntent[]> {
    const where = ['created_at >= ?'];
    const params: (string | number | Date)[] = [scan.since];
    if (scan.orgId !== null) {
      where.push('org_id = ?');
      params.push(scan.orgId);
    }
    if (scan.provider !== null) {
      where.push('provider = ?');
      params.push(scan.provider);
    }
    if (scan.before !== null) {
      where.push('(created_at, id) < (?, ?)');
      params.push(scan.before.createdAt, scan.before.id);
    }
    params.push(scan.limit);
    const rows = (await this.knex.raw(`select * from topup_intents where ${where.join(' and ')} order by created_at desc, id desc limit ?`, params)).rows as TopupIntentRecord[];
    return rows.map(toIntent);
  }

  /**
   * What the ledger holds for each top-up: the sum of its organization's entries under the
   * top-up's keys (`topup:<id>`, `topup:<id>:<n>`, `reverse:<id>:<n>` and the older `reverse:<id>`;
   * reversals are negative entries), read with SQL as an auditor would.
   */
  async ledgerNet(intents: readonly Pick<TopupIntent, 'id' | 'orgId'>[]): Promise<Map<string, Decimal>> {
    const out = new Map<string, Decimal>();
    if (intents.length === 0) return out;
    const rows = (
      await this.knex.raw(
        `select t.id::text as id, coalesce(sum(l.amount), 0)::text as net
           from topup_intents t
           left join ledger_entries l on l.org_id = t.org_id
            and (l.idempotency_key = 'topup:' || t.id::text or l.idempotency_key like 'topup:' || t.id::text || ':%'
                 or l.idempotency_key = 'reverse:' || t.id::text or l.idempotency_key like 'reverse:' || t.id::text || ':%')
          where t.id = any(?::uuid[]) group by t.id`,
        // A PostgreSQL array literal (knex would spread a JS array into a list); the ids are uuids.
        [`{${intents.map((i) => i.id).join(',')}}`],
      )
    ).rows as { id: string; net: string }[];
    for (const r of rows) out.set(r.id, new Decimal(r.net));
    return out;
  }

  /**
   * Ledger entries since `since` under a payment's key (`topup:<uuid>...`, `reverse:<uuid>...`,
   * which only the gateway's payment commands may use) whose top-up is not in this table.
   */
  async orphanLedgerEntries(since: Date, orgId: string | null, limit: number): Promise<OrphanLedgerEntry[]> {
    const rows = (
      await this.knex.raw(
        `select l.org_id, l.idempotency_key, l.type, l.amount::text as amount, l.currency, l.created_at
           from ledger_entries l
          where l.created_at >= ? and (?::text is null or l.org_id = ?)
            and l.idempotency_key ~ '${PAYMENT_KEY}'
            and not exists (select 1 from topup_intents t where t.id = (case when l.idempotency_key ~ '${PAYMENT_KEY}' then split_part(l.idempotency_key, ':', 2)::uuid end))
          order by l.created_at desc limit ?`,
        [since, orgId, orgId, limit],
      )
    ).rows as { org_id: string; idempotency_key: string; type: string; amount: string; currency: string; created_at: Date | string }[];
    return rows.map((r) => ({ orgId: r.org_id, idempotencyKey: r.idempotency_key, type: r.type, amount: r.amount, currency: r.currency, at: date(r.created_at) }));
  }
}
