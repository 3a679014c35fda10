import { EntitySchema } from '@mikro-orm/core';

/** One row per organization. `version` fences writers: every commit moves it by one. */
export interface WalletRow {
  orgId: string;
  currency?: string | null;
  currencyLocked: boolean;
  version: string;
  seq: string;
  total: string;
  /** Totals below which a `low_balance` event goes out, once per downward crossing. */
  lowBalanceThresholds: string[];
  createdAt: Date;
  updatedAt: Date;
}

export const WalletEntity = new EntitySchema<WalletRow>({
  name: 'Wallet',
  tableName: 'wallets',
  properties: {
    orgId: { type: 'text', primary: true },
    currency: { type: 'text', nullable: true },
    currencyLocked: { type: 'boolean', default: false },
    version: { type: 'bigint' },
    seq: { type: 'bigint' },
    total: { type: 'decimal', precision: 38, scale: 8 },
    lowBalanceThresholds: { type: 'json', defaultRaw: `'[]'::jsonb` },
    createdAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
    updatedAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
});
