import { EntitySchema } from '@mikro-orm/core';

export const TOPUP_PROVIDERS = ['stripe', 'vnpay', 'paypal'] as const;
export type TopupProvider = (typeof TOPUP_PROVIDERS)[number];

export const TOPUP_STATUSES = ['pending', 'succeeded', 'failed', 'reversed'] as const;
export type TopupStatus = (typeof TOPUP_STATUSES)[number];

/**
 * A top-up an organization started and the payment provider settles. Status moves only by
 * compare-and-set (`pending` -> `succeeded` | `failed`, `succeeded` -> `reversed`), so that any
 * number of copies of one webhook settle it once. The wallet is credited by the engine, not
 * here: `creditedAt` records that the engine confirmed the `topup` command (until then a sweep
 * re-sends it, idempotently), `reversalConfirmedAt` the same for a `reverse`. `creditError`
 * keeps a permanent refusal of the credit (a currency fixed meanwhile by another top-up), which
 * no retry can cure and an operator must refund.
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
  },
  // A provider's reference names one top-up; a webhook finds it by that.
  uniques: [{ name: 'topup_intents_provider_provider_ref_unique', properties: ['provider', 'providerRef'] }],
  indexes: [{ name: 'topup_intents_org_id_created_at_index', properties: ['orgId', 'createdAt'] }],
});
