import { EntitySchema } from '@mikro-orm/core';

/** A GPU resource as the control plane described it, with every lifecycle event accepted for it. */
export interface ResourceRow {
  orgId: string;
  resourceId: string;
  workspaceId: string;
  service: string;
  sku: string;
  /** Null until an event says how large the disk is. */
  storageGb: number | null;
  events: { eventId: string; status: string; at: string }[];
  /** True once DELETED is among the events: nothing more is billed after it. */
  deleted: boolean;
  /** Charges from this instant's UTC day on are computed again at the next meter; null once all are committed. */
  recomputeFrom: Date | null;
  updatedAt: Date;
}

export const ResourceEntity = new EntitySchema<ResourceRow>({
  name: 'Resource',
  tableName: 'resources',
  indexes: [{ name: 'resources_live_idx', properties: ['deleted', 'updatedAt'] }],
  properties: {
    orgId: { type: 'text', primary: true },
    resourceId: { type: 'text', primary: true },
    workspaceId: { type: 'text' },
    service: { type: 'text' },
    sku: { type: 'text' },
    storageGb: { type: 'integer', nullable: true },
    events: { type: 'json' },
    deleted: { type: 'boolean', default: false },
    recomputeFrom: { type: 'Date', columnType: 'timestamptz', nullable: true },
    updatedAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
});
