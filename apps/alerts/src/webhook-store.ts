import { WebhookRepository } from '@billing/persistence';
import { WebhookStore, WebhookTargetRef } from './webhook-dispatcher';
import { WebhookSecrets } from './webhook-secrets';

/**
 * The dispatcher's view of the database: the repository's rows with each secret opened for
 * signing. A secret that does not open fails that endpoint only (recorded and retried like a
 * failed request, so it heals once the key is configured again), not the organization's other endpoints.
 */
export class SealedWebhookStore implements WebhookStore {
  constructor(private readonly webhooks: WebhookRepository, private readonly secrets: WebhookSecrets) {}

  async targets(orgId: string, eventId: string): Promise<WebhookTargetRef[]> {
    return (await this.webhooks.targets(orgId, eventId)).map(({ endpoint, delivery }) => {
      try {
        return { endpoint: { id: endpoint.id, url: endpoint.url, secret: this.secrets.open(endpoint) }, delivery };
      } catch (error) {
        return { endpoint: { id: endpoint.id, url: endpoint.url, secret: '' }, delivery, unusable: `the signing secret cannot be decrypted: ${(error as Error)?.message ?? error}` };
      }
    });
  }

  recordDelivered(endpointId: string, eventId: string): Promise<void> {
    return this.webhooks.recordDelivered(endpointId, eventId);
  }

  recordFailure(endpointId: string, eventId: string, error: string): Promise<{ attempts: number; firstAttemptAt: Date } | null> {
    return this.webhooks.recordFailure(endpointId, eventId, error);
  }
}
