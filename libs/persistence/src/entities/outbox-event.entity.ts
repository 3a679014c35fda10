import { EntitySchema } from '@mikro-orm/core';

/** Events written in the same transaction as the change they describe; deleted once published. */
export interface OutboxEventRow {
  id: string;
  eventId: string;
  subject: string;
  payload: string;
  createdAt: Date;
}

export const OutboxEventEntity = new EntitySchema<OutboxEventRow>({
  name: 'OutboxEvent',
  tableName: 'outbox_events',
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    eventId: { type: 'uuid' },
    subject: { type: 'text' },
    payload: { type: 'text' },
    createdAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
});
