import { billingPeriods, LifecycleStatus, ResourceRecord, runningSinceMs, UsageRow } from '@billing/domain';
import { FenceScope, partitionCondition, PartitionFilter } from './partitions';
import { Shards } from './shards';

interface ResourceRecordRow {
  org_id: string;
  resource_id: string;
  workspace_id: string;
  service: string;
  sku: string;
  storage_gb: number | null;
  events: { eventId: string; status: string; at: string }[];
  recompute_from: Date | string | null;
}

function toRecord(r: ResourceRecordRow): ResourceRecord {
  const events = r.events.map((e) => ({ eventId: e.eventId, status: e.status as LifecycleStatus, at: new Date(e.at) }));
  return {
    orgId: r.org_id,
    resourceId: r.resource_id,
    workspaceId: r.workspace_id,
    service: r.service,
    sku: r.sku,
    storageGb: r.storage_gb,
    events,
    periods: billingPeriods(events),
    recomputeFromMs: r.recompute_from === null ? null : new Date(r.recompute_from).getTime(),
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());


/**
 * Resources, their lifecycle events, and usage read back from the ledger.
 * Every write is fenced: it happens only while the writer's epoch is still its partition's
 * (`partition_fence`, migration 20261202100000), and says whether it did.
 */
export class ResourceRepository {
  /** `shards`: each organization's resources are in its partition's shard, beside its wallet and fence. */
  constructor(private readonly shards: Shards, private readonly scope: FenceScope) {}

  async find(orgId: string, resourceId: string): Promise<ResourceRecord | null> {
    const rows = (await (await this.shards.knexOf(orgId)).raw('select * from resources where org_id = ? and resource_id = ?', [orgId, resourceId])).rows as ResourceRecordRow[];
    return rows.length ? toRecord(rows[0]) : null;
  }

  /** Stores the resource as it now is; false if the partition's epoch is no longer `epoch` (nothing written). */
  async save(r: ResourceRecord, epoch: number): Promise<boolean> {
    const events = JSON.stringify(r.events.map((e) => ({ eventId: e.eventId, status: e.status, at: e.at.toISOString() })));
    // A resource that no longer runs (its STOPPED or DELETED is in) ends its pending stop commands,
    // and a deleted one its delete_storage commands, in the same statement: they are not published
    // again. So does one started again after its delete_storage was asked for (the customer paid and
    // the control plane let it run: its data is in use, the deletion is withdrawn).
    const result = await (await this.shards.knexOf(r.orgId)).raw(
      `with saved as (
         insert into resources (org_id, resource_id, workspace_id, service, sku, storage_gb, events, deleted, recompute_from, updated_at)
         select ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?::timestamptz, now() where partition_fence(?, org_partition(?, ?), ?)
         on conflict (org_id, resource_id) do update set storage_gb = excluded.storage_gb, events = excluded.events, deleted = excluded.deleted,
           recompute_from = excluded.recompute_from, updated_at = now()
         returning 1
       ), stopped as (
         update stop_commands set stopped_at = now() where org_id = ? and resource_id = ? and stopped_at is null
           and case command when 'delete_storage' then ?::boolean or ?::timestamptz > requested_at else ?::boolean end and exists (select 1 from saved)
       )
       select count(*)::int as saved from saved`,
      [r.orgId, r.resourceId, r.workspaceId, r.service, r.sku, r.storageGb, events, r.periods.deleted, iso(r.recomputeFromMs), this.scope.group, r.orgId, this.scope.partitions, epoch, r.orgId, r.resourceId, r.periods.deleted, iso(runningSinceMs(r.periods)), !r.periods.running],
    );
    return (result.rows[0] as { saved: number }).saved === 1;
  }

  /** Moves the resource's recomputation point (its charges up to it are committed); false if fenced. */
  async setRecomputeFrom(orgId: string, resourceId: string, recomputeFromMs: number | null, epoch: number): Promise<boolean> {
    const result = await (await this.shards.knexOf(orgId)).raw(
      `update resources set recompute_from = ?::timestamptz where org_id = ? and resource_id = ? and partition_fence(?, org_partition(org_id, ?), ?)`,
      [iso(recomputeFromMs), orgId, resourceId, this.scope.group, this.scope.partitions, epoch],
    );
    return result.rowCount === 1;
  }

  /** Every resource of these partitions whose charges are not all committed (it bills on, or an event changed it), shard after shard. */
  async *billable(partitions: PartitionFilter, pageSize = 5000): AsyncGenerator<ResourceRecord[]> {
    for (const { shard, filter } of this.shards.split(partitions)) {
      const knex = await this.shards.knex(shard);
      let after = { org: '', res: '' };
      const owned = partitionCondition('org_id', filter);
      for (;;) {
        const rows = (
          await knex.raw(
            `select * from resources where recompute_from is not null and (org_id, resource_id) > (?, ?) and ${owned.sql}
             order by org_id, resource_id limit ?`,
            [after.org, after.res, ...owned.bindings, pageSize],
          )
        ).rows as ResourceRecordRow[];
        if (rows.length === 0) break;
        yield rows.map(toRecord);
        const last = rows[rows.length - 1];
        after = { org: last.org_id, res: last.resource_id };
      }
    }
  }

  /** An organization's resources: all not deleted, and those deleted in the last day. */
  async list(orgId: string, limit = 1000): Promise<ResourceRecord[]> {
    const rows = (
      await (await this.shards.knexOf(orgId)).raw(`select * from resources where org_id = ? and (not deleted or updated_at > now() - interval '1 day') order by resource_id limit ?`, [orgId, limit])
    ).rows as ResourceRecordRow[];
    return rows.map(toRecord);
  }

  /** Amount and GPU time per workspace, service, resource and UTC day of usage, from the ledger itself. */
  async usage(orgId: string, workspaceId: string | null, from: Date, to: Date): Promise<UsageRow[]> {
    const rows = (
      await (await this.shards.knexOf(orgId)).raw(
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
