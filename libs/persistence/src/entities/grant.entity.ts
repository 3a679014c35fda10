import { EntitySchema } from '@mikro-orm/core';

/** A bucket of credit (plan, voucher or top-up). Only `remaining` ever changes. */
export interface GrantRow {
  id: string;
  orgId: string;
  kind: string;
  amount: string;
  remaining: string;
  currency: string;
  service?: string | null;
  expiresAt?: Date | null;
  createdAt: Date;
  sourceRef?: string | null;
  /** When the `grant_expiring` notice went out (once per grant). */
  expiryNoticeAt?: Date | null;
  /** Plan credit that rolls over: at most this much moves on at expiry, into a grant valid one more period. */
  rolloverCap?: string | null;
  rolloverPeriodMs?: string | null;
}

export const GrantEntity = new EntitySchema<GrantRow>({
  name: 'Grant',
  tableName: 'grants',
  indexes: [{ name: 'grants_org_id_idx', properties: ['orgId'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    orgId: { type: 'text' },
    kind: { type: 'text' },
    amount: { type: 'decimal', precision: 38, scale: 8 },
    remaining: { type: 'decimal', precision: 38, scale: 8 },
    currency: { type: 'text' },
    service: { type: 'text', nullable: true },
    expiresAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
    sourceRef: { type: 'text', nullable: true },
    expiryNoticeAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    rolloverCap: { type: 'decimal', precision: 38, scale: 8, nullable: true },
    rolloverPeriodMs: { type: 'bigint', nullable: true },
  },
});
