import { EntitySchema } from '@mikro-orm/core';
import { SETTLEMENT_STATUSES, SettlementStatus } from '@billing/domain';

export const TOPUP_PROVIDERS = ['stripe', 'vnpay', 'paypal'] as const;
export type TopupProvider = (typeof TOPUP_PROVIDERS)[number];

/** The settlement machine's states (`libs/domain/src/settlement.ts`). */
export const TOPUP_STATUSES = SETTLEMENT_STATUSES;
export type TopupStatus = SettlementStatus;

/**
 * A top-up an organization started and the payment provider settles. Settlement is derived from
 * the set of facts the provider reported (`settlementFacts`, JSON, one per provider id), and the
 * ledger changes they made are appended to `ledgerChanges` (never edited); both, with `status`,
 * change only by compare-and-set on `version`, so that any number of copies of one webhook act
 * once. The wallet is credited by the engine, not here: the engine confirmed the first
 * `ledgerChangesConfirmed` changes (until then a sweep re-sends them, in order and idempotently);
 * `creditedAt` records the first credit's confirmation. `creditError` keeps a permanent refusal
 * (a currency fixed meanwhile by another top-up), which no retry can cure and an operator must
 * settle; no change past it is sent. `reversalConfirmedAt` is from before the machine: no longer
 * written.
 */
export interface TopupIntentRow {
  id: string;
  orgId: string;
  amount: string;
  currency: string;
  provider: TopupProvider;
  providerRef: string;
  /** The provider's id of the money movement once known (PayPal's capture id), to match refunds. */
  captureRef?: string | null;
  status: TopupStatus;
  createdAt: Date;
  settledAt?: Date | null;
  failureReason?: string | null;
  creditedAt?: Date | null;
  creditError?: string | null;
  reversalConfirmedAt?: Date | null;
  settlementFacts: unknown[];
  ledgerChanges: unknown[];
  ledgerChangesConfirmed: number;
  version: number;
  updatedAt: Date;
  /** When the provider's payment window closes (VNPAY's vnp_ExpireDate, PayPal's order window, Stripe's setting). */
  expiresAt?: Date | null;
  /** The reconciliation job does not ask about it again before this. */
  reconcileAt?: Date | null;
  reconcileAttempts: number;
  /** A gateway claimed it for one reconciliation run, until then. */
  reconcileLeaseUntil?: Date | null;
  /** The last time its provider was asked, and what came of it. */
  reconciledAt?: Date | null;
  reconcileOutcome?: string | null;
}

export const TopupIntentEntity = new EntitySchema<TopupIntentRow>({
  name: 'TopupIntent',
  tableName: 'topup_intents',
  properties: {
    id: { type: 'uuid', primary: true },
    orgId: { type: 'text' },
    amount: { type: 'decimal', columnType: 'numeric(38,8)' },
    currency: { type: 'text' },
    provider: { enum: true, items: [...TOPUP_PROVIDERS] },
    providerRef: { type: 'text' },
    captureRef: { type: 'text', nullable: true },
    status: { enum: true, items: [...TOPUP_STATUSES] },
    createdAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
    settledAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    failureReason: { type: 'text', nullable: true },
    creditedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    creditError: { type: 'text', nullable: true },
    reversalConfirmedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    settlementFacts: { type: 'json', defaultRaw: `'[]'::jsonb` },
    ledgerChanges: { type: 'json', defaultRaw: `'[]'::jsonb` },
    ledgerChangesConfirmed: { type: 'integer', default: 0 },
    version: { type: 'integer', default: 0 },
    updatedAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
    expiresAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    reconcileAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    reconcileAttempts: { type: 'integer', default: 0 },
    reconcileLeaseUntil: { type: 'Date', columnType: 'timestamptz', nullable: true },
    reconciledAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    reconcileOutcome: { type: 'text', nullable: true },
  },
  // A provider's reference names one top-up; a webhook finds it by that.
  uniques: [{ name: 'topup_intents_provider_provider_ref_unique', properties: ['provider', 'providerRef'] }],
  indexes: [{ name: 'topup_intents_org_id_created_at_index', properties: ['orgId', 'createdAt'] }],
});
