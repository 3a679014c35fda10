import { MikroORM } from '@mikro-orm/postgresql';
import { partitionCondition, PartitionFilter } from './partitions';
import { StoredOutboxMessage } from './wallet.repository';

/**
 * The outbox table as the relay sees it: what is still unpublished, and removal once published.
 * With `owned`, a process sees only the events of the organizations it serves (the orgId is the
 * third token of every event subject, `<prefix>.events.<orgId>.<type>`): processes do not publish
 * each other's events.
 */
export class OutboxRepository {
  constructor(private readonly orm: MikroORM, private readonly owned?: () => PartitionFilter) {}

  /**
   * Unpublished messages after `afterId`, oldest first. Not `balance` rows: an engine of an earlier
   * version (during an upgrade) may still write them, and they are live only now (the stream does
   * not take them; Migration20270102100000 removes those left).
   */
  async pending(limit: number, afterId = '0'): Promise<StoredOutboxMessage[]> {
    const owned = partitionCondition(`split_part(subject, '.', 3)`, this.owned?.());
    const rows = (
      await this.orm.em
        .getConnection()
        .getKnex()
        .raw(`select id, event_id, subject, payload from outbox_events where id > ? and split_part(subject, '.', 4) <> 'balance' and ${owned.sql} order by id limit ?`, [afterId, ...owned.bindings, limit])
    ).rows as { id: string; event_id: string; subject: string; payload: string }[];
    return rows.map((r) => ({ id: String(r.id), eventId: r.event_id, subject: r.subject, payload: r.payload }));
  }

  async delete(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.orm.em.getConnection().execute('delete from outbox_events where id = any(?::bigint[])', [`{${ids.join(',')}}`], 'run');
  }

  async count(): Promise<number> {
    const rows = await this.orm.em.getConnection().execute<{ n: string }[]>('select count(*) as n from outbox_events');
    return Number(rows[0].n);
  }
}
