import { EntitySchema } from '@mikro-orm/core';

/** One version of the price catalog, in force from `effectiveFrom` until the next version's. */
export interface PriceVersionRow {
  effectiveFrom: Date;
  /** `{ gpu: { sku: { currency: price } }, storagePerGbHour: { currency: price } }`. */
  catalog: unknown;
  recordedAt: Date;
}

export const PriceVersionEntity = new EntitySchema<PriceVersionRow>({
  name: 'PriceVersion',
  tableName: 'price_versions',
  properties: {
    effectiveFrom: { type: 'Date', columnType: 'timestamptz', primary: true },
    catalog: { type: 'json' },
    recordedAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
});
