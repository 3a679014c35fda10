import { GpuResource, LifecycleEvent, LifecycleStatus } from '@billing/domain';
import { MikroORM } from '@mikro-orm/postgresql';
import { partitionCondition, PartitionFilter } from './partitions';

export interface StoredResource extends GpuResource {
  readonly events: readonly LifecycleEvent[];
}

export interface LiveResource extends StoredResource {
  /** The furthest instant any of its meters was charged up to; null if never charged. */
  readonly meteredUntil: Date | null;
}

interface ResourceRecordRow {
  org_id: string;
  resource_id: string;
  workspace_id: string;
  service: string;
  sku: string;
  storage_gb: number;
  events: { eventId: string; status: string; at: string }[];
}

function toStored(r: ResourceRecordRow): StoredResource {
  return {
    orgId: r.org_id,
    resourceId: r.resource_id,
    workspaceId: r.workspace_id,
    service: r.service,
    sku: r.sku,
    storageGb: r.storage_gb,
    events: r.events.map((e) => ({ eventId: e.eventId, status: e.status as LifecycleStatus, at: new Date(e.at) })),
  };
}

export interface UsageRow {
  readonly workspaceId: string | null;
  readonly service: string | null;
  readonly resourceId: string;
  readonly day: string;
  readonly amount: string;
  readonly gpuHours: string;
}

/** Resources, their lifecycle events, rejected events, and usage read back from the ledger. */
export class ResourceRepository {
  constructor(private readonly orm: MikroORM) {}

  private get knex() {
    return this.orm.em.getConnection().getKnex();
  }

  async find(orgId: string, resourceId: string): Promise<StoredResource | null> {
    const rows = (await this.knex.raw('select * from resources where org_id = ? and resource_id = ?', [orgId, resourceId])).rows as ResourceRecordRow[];
    return rows.length ? toStored(rows[0]) : null;
  }

  async save(r: StoredResource, deleted: boolean): Promise<void> {
    await this.knex.raw(
      `insert into resources (org_id, resource_id, workspace_id, service, sku, storage_gb, events, deleted, updated_at)
       values (?, ?, ?, ?, ?, ?, ?::jsonb, ?, now())
       on conflict (org_id, resource_id) do update set events = excluded.events, deleted = excluded.deleted, updated_at = now()`,
      [r.orgId, r.resourceId, r.workspaceId, r.service, r.sku, r.storageGb, JSON.stringify(r.events.map((e) => ({ eventId: e.eventId, status: e.status, at: e.at.toISOString() }))), deleted],
    );
  }

  /** Every resource that may still bill: not deleted, or deleted recently (a late event may still correct it). */
  async *live(recentSince: Date, partitions?: PartitionFilter, pageSize = 5000): AsyncGenerator<LiveResource[]> {
    let after = { org: '', res: '' };
    const owned = partitionCondition('r.org_id', partitions);
    for (;;) {
      const rows = (
        await this.knex.raw(
          `select r.*, (select max(m.until) from meters m where m.org_id = r.org_id and m.resource_id = r.resource_id) as metered_until
           from resources r where (not r.deleted or r.updated_at >= ?) and (r.org_id, r.resource_id) > (?, ?) and ${owned.sql}
           order by r.org_id, r.resource_id limit ?`,
          [recentSince, after.org, after.res, ...owned.bindings, pageSize],
        )
      ).rows as (ResourceRecordRow & { metered_until: Date | string | null })[];
      if (rows.length === 0) return;
      yield rows.map((r) => ({ ...toStored(r), meteredUntil: r.metered_until === null ? null : new Date(r.metered_until) }));
      const last = rows[rows.length - 1];
      after = { org: last.org_id, res: last.resource_id };
    }
  }

  /** An organization's resources: all not deleted, and those deleted in the last day. */
  async list(orgId: string, limit = 1000): Promise<StoredResource[]> {
    const rows = (
      await this.knex.raw(`select * from resources where org_id = ? and (not deleted or updated_at > now() - interval '1 day') order by resource_id limit ?`, [orgId, limit])
    ).rows as ResourceRecordRow[];
    return rows.map(toStored);
  }

  async reject(subject: string, eventId: string | null, reason: string, payload: string): Promise<void> {
    await this.knex.raw('insert into rejected_lifecycle_events (subject, event_id, reason, payload) values (?, ?, ?, ?)', [subject, eventId, reason, payload.slice(0, 16_384)]);
  }

  /** Amount and GPU time per workspace, service, resource and UTC day of usage, from the ledger itself. */
  async usage(orgId: string, workspaceId: string | null, from: Date, to: Date): Promise<UsageRow[]> {
    const rows = (
      await this.knex.raw(
        `select workspace_id, service, resource_id,
                to_char(date_trunc('day', (coalesce(usage_until, created_at) - interval '1 millisecond') at time zone 'UTC'), 'YYYY-MM-DD') as day,
                (-sum(amount))::text as amount,
                round(coalesce(sum(usage_ms), 0) / 3600000.0, 8)::text as gpu_hours
         from ledger_entries
         where org_id = ? and resource_id is not null and type in ('debit', 'correction')
           and coalesce(usage_until, created_at) > ? and coalesce(usage_until, created_at) <= ?
           and (?::text is null or workspace_id = ?)
         group by 1, 2, 3, 4
         having sum(amount) <> 0 or coalesce(sum(usage_ms), 0) <> 0
         order by 4, 1, 2, 3`,
        [orgId, from, to, workspaceId, workspaceId],
      )
    ).rows as { workspace_id: string | null; service: string | null; resource_id: string; day: string; amount: string; gpu_hours: string }[];
    return rows.map((r) => ({ workspaceId: r.workspace_id, service: r.service, resourceId: r.resource_id, day: r.day, amount: r.amount, gpuHours: r.gpu_hours }));
  }
}
