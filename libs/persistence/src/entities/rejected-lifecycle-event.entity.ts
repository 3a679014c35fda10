import { EntitySchema } from '@mikro-orm/core';

/** A lifecycle message the engine could not use, kept with the reason instead of being retried forever. */
export interface RejectedLifecycleEventRow {
  id: string;
  subject: string;
  eventId?: string | null;
  reason: string;
  payload: string;
  receivedAt: Date;
}

export const RejectedLifecycleEventEntity = new EntitySchema<RejectedLifecycleEventRow>({
  name: 'RejectedLifecycleEvent',
  tableName: 'rejected_lifecycle_events',
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    subject: { type: 'text' },
    eventId: { type: 'text', nullable: true },
    reason: { type: 'text' },
    payload: { type: 'text' },
    receivedAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
});
