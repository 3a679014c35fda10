import { EntitySchema } from '@mikro-orm/core';

/**
 * A URL an organization wants its alerts POSTed to, with the secret that signs them. The alert
 * service must sign with the secret, so it is encrypted rather than hashed: `secretCiphertext`,
 * sealed with the key `secretKeyId` (apps/alerts, SecretBox). `secret`, the plain text, is left
 * only on rows from before encryption, until the alert service's next start seals them. The
 * secret is never sent back.
 */
export interface WebhookEndpointRow {
  id: string;
  orgId: string;
  url: string;
  secret?: string | null;
  secretCiphertext?: string | null;
  secretKeyId?: string | null;
  createdAt: Date;
}

export const WebhookEndpointEntity = new EntitySchema<WebhookEndpointRow>({
  name: 'WebhookEndpoint',
  tableName: 'webhook_endpoints',
  properties: {
    id: { type: 'uuid', primary: true },
    orgId: { type: 'text' },
    url: { type: 'text' },
    secret: { type: 'text', nullable: true },
    secretCiphertext: { type: 'text', nullable: true },
    secretKeyId: { type: 'text', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
  // One row per URL and organization: replacing the list keeps a URL's id, so its deliveries still dedupe.
  uniques: [{ name: 'webhook_endpoints_org_id_url_unique', properties: ['orgId', 'url'] }],
  // One form of the secret per row (Migration20261205100000).
  checks: [{ name: 'webhook_endpoints_secret_one_form', expression: '(secret is null) <> (secret_ciphertext is null) and (secret_ciphertext is null) = (secret_key_id is null)' }],
});
