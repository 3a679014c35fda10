import { EntitySchema } from '@mikro-orm/core';

/** A voucher code an admin created: what it grants and how often it may be redeemed. */
export interface VoucherCodeRow {
  code: string;
  amount: string;
  currency: string;
  service?: string | null;
  /** The vouchers expire at this instant... */
  expiresAt?: Date | null;
  /** ...or this many days after each redemption. */
  expiresAfterDays?: number | null;
  maxRedemptions: number;
  redemptions: number;
  campaignEndsAt?: Date | null;
  createdAt: Date;
}

export const VoucherCodeEntity = new EntitySchema<VoucherCodeRow>({
  name: 'VoucherCode',
  tableName: 'voucher_codes',
  properties: {
    code: { type: 'text', primary: true },
    amount: { type: 'decimal', precision: 38, scale: 8 },
    currency: { type: 'text' },
    service: { type: 'text', nullable: true },
    expiresAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    expiresAfterDays: { type: 'integer', nullable: true },
    maxRedemptions: { type: 'integer' },
    redemptions: { type: 'integer', default: 0 },
    campaignEndsAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
});
