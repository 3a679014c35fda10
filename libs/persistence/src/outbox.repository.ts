import { MikroORM } from '@mikro-orm/postgresql';
import { StoredOutboxMessage } from './wallet.repository';

/** The outbox table as the relay sees it: what is still unpublished, and removal once published. */
export class OutboxRepository {
  constructor(private readonly orm: MikroORM) {}

  /** The oldest unpublished messages. */
  async pending(limit: number): Promise<StoredOutboxMessage[]> {
    const rows = await this.orm.em.getConnection().execute<{ id: string; event_id: string; subject: string; payload: string }[]>(
      'select id, event_id, subject, payload from outbox_events order by id limit ?',
      [limit],
    );
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
