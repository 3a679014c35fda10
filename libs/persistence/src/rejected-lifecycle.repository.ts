import { MikroORM } from '@mikro-orm/postgresql';
import { outboxId, Shards } from './shards';
import { OutboxMessage, StoredOutboxMessage } from './wallet.repository';

/** Longest payload kept of a rejected lifecycle message, in characters (the rest is cut). */
export const MAX_REJECTED_PAYLOAD_CHARS = 16_384;

/** A lifecycle message the engine refuses for good. */
export interface RejectedLifecycleMessage {
  readonly subject: string;
  /** The message's own `eventId`, if it could be read. */
  readonly eventId: string | null;
  /** `<CODE>: <why>`. */
  readonly reason: string;
  /** The body as received (UTF-8). */
  readonly payload: string;
}

/** PostgreSQL text holds no NUL character: it is kept escaped. */
function storable(text: string): string {
  return text.replace(/\u0000/g, '\\u0000');
}

/** Rejected lifecycle messages: each recorded with its reason, and announced to its organization in the same commit. */
export class RejectedLifecycleRepository {
  /**
   * A message that names an organization is recorded in that organization's shard, with its
   * announcement (one statement, the shard's outbox); one that names none, in the global home.
   */
  constructor(private readonly home: MikroORM, private readonly shards: Shards) {}

  /**
   * Stores the rejected message and, when there is one, the outbox event announcing it, in one
   * statement (so one transaction: both or neither). Returns the stored event for the relay to
   * publish at once; its sweep publishes it anyway.
   */
  async record(rejected: RejectedLifecycleMessage, announcement: { readonly orgId: string; readonly message: OutboxMessage } | null): Promise<StoredOutboxMessage | null> {
    const row = [storable(rejected.subject), rejected.eventId === null ? null : storable(rejected.eventId), storable(rejected.reason), storable(rejected.payload).slice(0, MAX_REJECTED_PAYLOAD_CHARS)];
    if (!announcement) {
      await this.home.em.getConnection().getKnex().raw('insert into rejected_lifecycle_events (subject, event_id, reason, payload) values (?, ?, ?, ?)', row);
      return null;
    }
    const shard = this.shards.shardOf(announcement.orgId);
    const result = await (await this.shards.knex(shard)).raw(
      `with rejected as (
         insert into rejected_lifecycle_events (subject, event_id, reason, payload) values (?, ?, ?, ?) returning id
       )
       insert into outbox_events (event_id, subject, payload, org_id)
       select ?::uuid, ?, ?, ? from rejected
       returning id`,
      [...row, announcement.message.eventId, announcement.message.subject, announcement.message.payload, announcement.orgId],
    );
    const [{ id }] = result.rows as { id: string | number }[];
    return { ...announcement.message, id: outboxId(shard, id) };
  }
}
