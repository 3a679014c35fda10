import { MikroORM } from '@mikro-orm/postgresql';
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
}


interface TopupIntentRecord {
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
}

// MikroORM's pg driver hands timestamps back as strings.
const date = (v: Date | string) => (v instanceof Date ? v : new Date(v));
const maybeDate = (v: Date | string | null) => (v === null ? null : date(v));

function toIntent(r: TopupIntentRecord): TopupIntent {
  return {
    id: r.id,
    orgId: r.org_id,
    amount: new Decimal(r.amount),
    currency: r.currency as Currency,
    provider: r.provider as TopupProvider,
    providerRef: r.provider_ref,
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

/**
 * Top-up intents. Every settlement change is one `update ... where version = <read> returning *`:
 * of any number of concurrent writers exactly one gets the row back, the others get null, change
 * nothing, and start again from what the winner wrote. No method opens a transaction, so none is
 * ever held across a call to a provider or to the engine.
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

  async createPending(intent: NewTopupIntent): Promise<TopupIntent> {
    const created = await this.one(
      `insert into topup_intents (id, org_id, amount, currency, provider, provider_ref, status, created_at)
       values (?, ?, ?, ?, ?, ?, 'pending', now()) returning *`,
      [intent.id, intent.orgId, intent.amount.toFixed(), intent.currency, intent.provider, intent.providerRef],
    );
    return created!;
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
}
