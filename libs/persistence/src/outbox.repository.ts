import { partitionCondition, PartitionFilter } from './partitions';
import { outboxId, parseOutboxId, Shards } from './shards';
import { StoredOutboxMessage } from './wallet.repository';

/**
 * The outbox tables as the relay sees them: what is still unpublished, and removal once published.
 * Each shard has its own outbox (written in its commits); the relay reads them one after the other,
 * in the order SHARDS names them, with ids `<shard>:<row id>` (./shards.ts). With `owned`, a
 * process sees only the events of the organizations it serves (the orgId is the third token of
 * every event subject, `<prefix>.events.<orgId>.<type>`): processes do not publish each other's
 * events. A shard that cannot be reached is passed over (`onShardError`): its rows wait in its
 * table for the next sweep, and the other shards' are published.
 */
export class OutboxRepository {
  constructor(
    private readonly shards: Shards,
    private readonly owned?: () => PartitionFilter,
    private readonly onShardError?: (shard: string, error: unknown) => void,
  ) {}

  /**
   * Unpublished messages after `afterId` (a `<shard>:<id>` this returned, or '0'), oldest first
   * within a shard. Not `balance` rows: an engine of an earlier version (during an upgrade) may
   * still write them, and they are live only now (the stream does not take them;
   * Migration20270102100000 removes those left).
   */
  async pending(limit: number, afterId = '0'): Promise<StoredOutboxMessage[]> {
    const names = this.shards.names;
    const parts = this.shards.split(this.owned?.()).sort((a, b) => names.indexOf(a.shard) - names.indexOf(b.shard));
    const cursor = afterId === '0' ? null : parseOutboxId(afterId);
    const from = cursor ? names.indexOf(cursor.shard) : 0;
    const out: StoredOutboxMessage[] = [];
    for (const { shard, filter } of parts) {
      const index = names.indexOf(shard);
      if (index < from) continue;
      const after = cursor && index === from ? cursor.rowId : '0';
      const owned = partitionCondition('org_id', filter);
      try {
        const rows = (
          await (await this.shards.knex(shard)).raw(
            `select id, event_id, subject, payload from outbox_events where id > ? and split_part(subject, '.', 4) <> 'balance' and ${owned.sql} order by id limit ?`,
            [after, ...owned.bindings, limit - out.length],
          )
        ).rows as { id: string; event_id: string; subject: string; payload: string }[];
        for (const r of rows) out.push({ id: outboxId(shard, r.id), eventId: r.event_id, subject: r.subject, payload: r.payload });
      } catch (error) {
        this.onShardError?.(shard, error);
        continue;
      }
      if (out.length >= limit) break;
    }
    return out;
  }

  async delete(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const byShard = new Map<string, string[]>();
    for (const id of ids) {
      const { shard, rowId } = parseOutboxId(id);
      let list = byShard.get(shard);
      if (!list) byShard.set(shard, (list = []));
      list.push(rowId);
    }
    const failures: unknown[] = [];
    await Promise.all(
      [...byShard].map(async ([shard, rowIds]) => {
        try {
          await (await this.shards.knex(shard)).raw('delete from outbox_events where id = any(?::bigint[])', [`{${rowIds.join(',')}}`]);
        } catch (error) {
          failures.push(error);
        }
      }),
    );
    // Published but not deleted: the sweep publishes them again, and JetStream drops the repeat.
    if (failures.length > 0) throw failures[0];
  }

  /** Rows in every shard's outbox. */
  async count(): Promise<number> {
    let n = 0;
    for (const shard of this.shards.names) n += Number(((await (await this.shards.knex(shard)).raw('select count(*) as n from outbox_events')).rows as { n: string }[])[0].n);
    return n;
  }
}
