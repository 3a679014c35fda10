import { EntitySchema } from '@mikro-orm/core';

export const TOPUP_REFUND_STATUSES = ['requested', 'succeeded', 'failed'] as const;
export type TopupRefundStatus = (typeof TOPUP_REFUND_STATUSES)[number];

/**
 * A refund an operator asked for (top-ups are not refundable by customers: the product's rule).
 * Written before the provider is called (`requested`), so that a retry with the same idempotency
 * key resumes it with the same provider key instead of refunding twice, and so that refunds in
 * flight count against what is left; then `succeeded` (the provider took it and the settlement
 * holds its fact) or `failed` (the provider refused it for good).
 */
export interface TopupRefundRow {
  id: string;
  topupId: string;
  idempotencyKey: string;
  /** What the operator asked: null for all that was left. */
  requestedAmount?: string | null;
  /** What it came to, in the top-up's currency. */
  amount: string;
  currency: string;
  reason: string;
  operator: string;
  requestId: string;
  status: TopupRefundStatus;
  providerRefundId?: string | null;
  providerStatus?: string | null;
  error?: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export const TopupRefundEntity = new EntitySchema<TopupRefundRow>({
  name: 'TopupRefund',
  tableName: 'topup_refunds',
  uniques: [{ name: 'topup_refunds_topup_id_idempotency_key_unique', properties: ['topupId', 'idempotencyKey'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    topupId: { type: 'uuid' },
    idempotencyKey: { type: 'text' },
    requestedAmount: { type: 'decimal', columnType: 'numeric(38,8)', nullable: true },
    amount: { type: 'decimal', columnType: 'numeric(38,8)' },
    currency: { type: 'text' },
    reason: { type: 'text' },
    operator: { type: 'text' },
    requestId: { type: 'text' },
    status: { enum: true, items: [...TOPUP_REFUND_STATUSES] },
    providerRefundId: { type: 'text', nullable: true },
    providerStatus: { type: 'text', nullable: true },
    error: { type: 'text', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
    updatedAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
});
