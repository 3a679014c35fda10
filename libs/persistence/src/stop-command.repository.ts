import { MikroORM } from '@mikro-orm/postgresql';
import { partitionCondition, PartitionFilter } from './partitions';

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
  constructor(private readonly orm: MikroORM) {}

  private get knex() {
    return this.orm.em.getConnection().getKnex();
  }

  /** Pending commands of the organizations in `partitions`, oldest first, at most `limit`. */
  async pending(partitions: PartitionFilter | undefined, limit: number): Promise<PendingStop[]> {
    const owned = partitionCondition('org_id', partitions);
    const rows = (
      await this.knex.raw(`select * from stop_commands where stopped_at is null and ${owned.sql} order by requested_at, command_id limit ?`, [...owned.bindings, limit])
    ).rows as StopRow[];
    return rows.map(toStop);
  }

  /** Every command of an organization, newest first (what was asked, and whether it is over). */
  async ofOrganization(orgId: string, limit = 1000): Promise<PendingStop[]> {
    const rows = (await this.knex.raw(`select * from stop_commands where org_id = ? order by requested_at desc, command_id limit ?`, [orgId, limit])).rows as StopRow[];
    return rows.map(toStop);
  }

  async sent(commandId: string): Promise<void> {
    await this.knex.raw(`update stop_commands set last_sent_at = now(), repeats = repeats + 1 where command_id = ? and stopped_at is null`, [commandId]);
  }

  /** Ends a command whose resource no longer runs (its STOPPED committed before the command was). */
  async stopped(commandId: string): Promise<void> {
    await this.knex.raw(`update stop_commands set stopped_at = now() where command_id = ? and stopped_at is null`, [commandId]);
  }
}
