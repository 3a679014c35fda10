import { EntitySchema } from '@mikro-orm/core';

/**
 * Append-only: a trigger refuses UPDATE and DELETE. Keyed by (organization, seq), gapless. The idempotency key is unique per
 * organization, so a command can never be applied twice, whichever process commits it.
 */
export interface LedgerEntryRow {
  id: string;
  orgId: string;
  seq: string;
  type: string;
  amount: string;
  currency: string;
  split: { grantId: string; amount: string }[];
  idempotencyKey: string;
  requestHash: string;
  service?: string | null;
  workspaceId?: string | null;
  resourceId?: string | null;
  description?: string | null;
  reference?: string | null;
  totalAfter: string;
  usageMs?: string | null;
  usageUntil?: Date | null;
  createdAt: Date;
}

export const LedgerEntryEntity = new EntitySchema<LedgerEntryRow>({
  name: 'LedgerEntry',
  tableName: 'ledger_entries',
  uniques: [{ name: 'ledger_entries_org_idempotency_key_unique', properties: ['orgId', 'idempotencyKey'] }],
  properties: {
    // The ledger is read by organization and position; the entry id is a public reference only.
    orgId: { type: 'text', primary: true },
    seq: { type: 'bigint', primary: true },
    id: { type: 'uuid' },
    type: { type: 'text' },
    amount: { type: 'decimal', precision: 38, scale: 8 },
    currency: { type: 'text' },
    split: { type: 'json' },
    idempotencyKey: { type: 'text' },
    requestHash: { type: 'text' },
    service: { type: 'text', nullable: true },
    workspaceId: { type: 'text', nullable: true },
    resourceId: { type: 'text', nullable: true },
    description: { type: 'text', nullable: true },
    reference: { type: 'text', nullable: true },
    totalAfter: { type: 'decimal', precision: 38, scale: 8 },
    usageMs: { type: 'bigint', nullable: true },
    usageUntil: { type: 'Date', columnType: 'timestamptz', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
  },
});
