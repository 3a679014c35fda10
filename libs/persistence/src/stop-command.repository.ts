import { partitionCondition, PartitionFilter } from './partitions';
import { Shards } from './shards';

/** A control command whose resource's STOPPED (for `delete_storage`: DELETED) is not committed yet. */
export interface PendingStop {
  readonly commandId: string;
  readonly command: 'stop' | 'delete_storage';
  readonly orgId: string;
  readonly resourceId: string;
  readonly reason: string;
  readonly requestedAt: Date;
  readonly stoppedAt: Date | null;
  readonly repeats: number;
}

interface StopRow {
  command_id: string;
  command: 'stop' | 'delete_storage';
  org_id: string;
  resource_id: string;
  reason: string;
  requested_at: Date | string;
  stopped_at: Date | string | null;
  repeats: number;
}

const toStop = (r: StopRow): PendingStop => ({
  commandId: r.command_id,
  command: r.command,
  orgId: r.org_id,
  resourceId: r.resource_id,
  reason: r.reason,
  requestedAt: new Date(r.requested_at),
  stoppedAt: r.stopped_at === null ? null : new Date(r.stopped_at),
  repeats: Number(r.repeats),
});

/**
 * The record of stop commands (`stop_commands`): written with the wallet batch that decided them
 * (WalletRepository.commit), ended with the resource's STOPPED (ResourceRepository.save); here,
 * what the repeater reads and notes.
 */
export class StopCommandRepository {
  /** In each organization's shard, beside the wallet batch that wrote them. */
  constructor(private readonly shards: Shards) {}

  /** Pending commands of the organizations in `partitions`, oldest first, at most `limit` (per shard; a shard that cannot be reached is passed over). */
  async pending(partitions: PartitionFilter | undefined, limit: number, onShardError?: (shard: string, error: unknown) => void): Promise<PendingStop[]> {
    const found = await Promise.all(
      this.shards.split(partitions).map(async ({ shard, filter }) => {
        const owned = partitionCondition('org_id', filter);
        try {
          const rows = (
            await (await this.shards.knex(shard)).raw(`select * from stop_commands where stopped_at is null and ${owned.sql} order by requested_at, command_id limit ?`, [...owned.bindings, limit])
          ).rows as StopRow[];
          return rows.map(toStop);
        } catch (error) {
          if (!onShardError) throw error;
          onShardError(shard, error);
          return [];
        }
      }),
    );
    return found
      .flat()
      .sort((a, b) => a.requestedAt.getTime() - b.requestedAt.getTime() || (a.commandId < b.commandId ? -1 : 1))
      .slice(0, limit);
  }

  /** Every command of an organization, newest first (what was asked, and whether it is over). */
  async ofOrganization(orgId: string, limit = 1000): Promise<PendingStop[]> {
    const rows = (await (await this.shards.knexOf(orgId)).raw(`select * from stop_commands where org_id = ? order by requested_at desc, command_id limit ?`, [orgId, limit])).rows as StopRow[];
    return rows.map(toStop);
  }

  async sent(orgId: string, commandId: string): Promise<void> {
    await (await this.shards.knexOf(orgId)).raw(`update stop_commands set last_sent_at = now(), repeats = repeats + 1 where org_id = ? and command_id = ? and stopped_at is null`, [orgId, commandId]);
  }

  /** Ends a command whose resource no longer runs (its STOPPED committed before the command was). */
  async stopped(orgId: string, commandId: string): Promise<void> {
    await (await this.shards.knexOf(orgId)).raw(`update stop_commands set stopped_at = now() where org_id = ? and command_id = ? and stopped_at is null`, [orgId, commandId]);
  }
}
