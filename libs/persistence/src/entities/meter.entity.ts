import { EntitySchema } from '@mikro-orm/core';

/**
 * What each resource has been charged for each UTC day of its usage, written in the same
 * transaction as the ledger entries that charged it: the wallet charges only the difference.
 */
export interface MeterRow {
  orgId: string;
  resourceId: string;
  day: string;
  charged: string;
  usageMs: string;
  until?: Date | null;
  entries: number;
  byGrant: Record<string, string>;
  updatedAt: Date;
}

export const MeterEntity = new EntitySchema<MeterRow>({
  name: 'Meter',
  tableName: 'meters',
  properties: {
    orgId: { type: 'text', primary: true },
    resourceId: { type: 'text', primary: true },
    day: { type: 'date', primary: true },
    charged: { type: 'decimal', precision: 38, scale: 8 },
    usageMs: { type: 'bigint' },
    until: { type: 'Date', columnType: 'timestamptz', nullable: true },
    entries: { type: 'integer' },
    byGrant: { type: 'json' },
    updatedAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
});
