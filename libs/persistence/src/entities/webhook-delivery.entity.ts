import { EntitySchema } from '@mikro-orm/core';
import { WebhookEndpointRow } from './webhook-endpoint.entity';

export const WEBHOOK_DELIVERY_STATUSES = ['delivered', 'failed'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/**
 * What happened to one event at one endpoint. `delivered` is final: the event is never sent
 * there again. `failed` means the last attempt failed; the alert service keeps retrying until
 * its retry window, counted from `firstAttemptAt`, has passed, and then leaves the row as it is.
 * The rows go with their endpoint when an organization removes it.
 */
export interface WebhookDeliveryRow {
  endpoint: WebhookEndpointRow;
  eventId: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  lastError?: string | null;
  firstAttemptAt: Date;
  deliveredAt?: Date | null;
  updatedAt: Date;
}

export const WebhookDeliveryEntity = new EntitySchema<WebhookDeliveryRow>({
  name: 'WebhookDelivery',
  tableName: 'webhook_deliveries',
  properties: {
    endpoint: { kind: 'm:1', entity: 'WebhookEndpoint', primary: true, deleteRule: 'cascade' },
    eventId: { type: 'uuid', primary: true },
    status: { enum: true, items: [...WEBHOOK_DELIVERY_STATUSES] },
    attempts: { type: 'integer' },
    lastError: { type: 'text', nullable: true },
    firstAttemptAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
    deliveredAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    updatedAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
});
