import { EntitySchema } from '@mikro-orm/core';

/**
 * A URL an organization wants its alerts POSTed to, with the secret that signs them. The
 * secret is kept readable because the alert service must sign with it; it is never sent back.
 */
export interface WebhookEndpointRow {
  id: string;
  orgId: string;
  url: string;
  secret: string;
  createdAt: Date;
}

export const WebhookEndpointEntity = new EntitySchema<WebhookEndpointRow>({
  name: 'WebhookEndpoint',
  tableName: 'webhook_endpoints',
  properties: {
    id: { type: 'uuid', primary: true },
    orgId: { type: 'text' },
    url: { type: 'text' },
    secret: { type: 'text' },
    createdAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
  // One row per URL and organization: replacing the list keeps a URL's id, so its deliveries still dedupe.
  uniques: [{ name: 'webhook_endpoints_org_id_url_unique', properties: ['orgId', 'url'] }],
});
