/** A `topup_intents` row: the intent it holds, and how its columns and settlement JSON are read and written. */
import { Currency, Decimal, LedgerChange, Settlement, SettlementFact, SettlementInput } from '@billing/domain';
import { TopupProvider, TopupStatus } from './entities/topup-intent.entity';

/** Kept of a failure reason or a refusal: enough to diagnose, bounded whatever a provider sends. */
export const MAX_TOPUP_REASON_CHARS = 500;

/** A failure reason or refusal cut to what is kept of it (MAX_TOPUP_REASON_CHARS). */
export const truncateReason = (text: string) => text.slice(0, MAX_TOPUP_REASON_CHARS);

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
export const dateOfColumn = (v: Date | string) => (v instanceof Date ? v : new Date(v));
const maybeDate = (v: Date | string | null) => (v === null ? null : dateOfColumn(v));

/** A `topup_intents` row as read with SQL. */
export function toIntent(r: TopupIntentRecord): TopupIntent {
  return {
    id: r.id,
    orgId: r.org_id,
    amount: new Decimal(r.amount),
    currency: r.currency as Currency,
    provider: r.provider as TopupProvider,
    providerRef: r.provider_ref,
    expiresAt: maybeDate(r.expires_at) ?? dateOfColumn(r.created_at),
    captureRef: r.capture_ref,
    status: r.status as TopupStatus,
    createdAt: dateOfColumn(r.created_at),
    settledAt: maybeDate(r.settled_at),
    failureReason: r.failure_reason,
    creditedAt: maybeDate(r.credited_at),
    creditError: r.credit_error,
    reversalConfirmedAt: maybeDate(r.reversal_confirmed_at),
    settlement: { topupId: r.id, facts: r.settlement_facts.map(factFromJson), changes: r.ledger_changes.map(changeFromJson) },
    changesConfirmed: Number(r.ledger_changes_confirmed),
    version: Number(r.version),
    updatedAt: dateOfColumn(r.updated_at),
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
