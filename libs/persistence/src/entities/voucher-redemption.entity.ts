import { EntitySchema } from '@mikro-orm/core';

/**
 * One organization's redemption of a code: reserved (counted against the maximum) in one
 * transaction, then granted by the wallet; a reservation left by a crash is granted by a sweep.
 */
export interface VoucherRedemptionRow {
  code: string;
  orgId: string;
  requestKey: string;
  status: string;
  createdAt: Date;
}

export const VoucherRedemptionEntity = new EntitySchema<VoucherRedemptionRow>({
  name: 'VoucherRedemption',
  tableName: 'voucher_redemptions',
  properties: {
    code: { type: 'text', primary: true },
    orgId: { type: 'text', primary: true },
    requestKey: { type: 'text' },
    status: { type: 'text' },
    createdAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
});
