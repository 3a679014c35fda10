import { Controller, Inject, Logger } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ErrorCode, errorReply, InputError, readJson } from '@billing/contracts';
import { WebhookEndpoint, WebhookRepository } from '@billing/persistence';
import { Msg } from 'nats';
import { WebhookTargetRefused } from './alerts-error-codes';
import { AlertsConfig } from './alerts.config';
import { ALERTS_CONFIG, WEBHOOKS_ROUTE } from './tokens';
import { parseWebhookEndpoints, parseWebhookSubject } from './webhook-commands';
import { WebhookSecrets } from './webhook-secrets';
import { WebhookResolveFailed, WebhookTargetGuard } from './webhook-target-guard';

/** What an organization sees of an endpoint: never the secret, which it already has. */
function endpointView(e: WebhookEndpoint) {
  return { id: e.id, url: e.url, createdAt: e.createdAt.toISOString() };
}

/**
 * The webhook configuration's NATS face, request/reply in plain JSON like the wallet's
 * (NatsJsonTransport): `<prefix>.alerts.<orgId>.webhooks.set` and `.get`. Input is checked before the database is
 * touched: the syntax, then where each URL points (the guard resolves its host); a refused list
 * changes nothing. Secrets are sealed before they are written.
 */
@Controller()
export class WebhooksController {
  private readonly logger = new Logger('WebhooksController');

  constructor(
    @Inject(ALERTS_CONFIG) private readonly config: AlertsConfig,
    private readonly webhooks: WebhookRepository,
    private readonly guard: WebhookTargetGuard,
    private readonly secrets: WebhookSecrets,
  ) {}

  @MessagePattern(WEBHOOKS_ROUTE)
  async endpoints(@Payload() msg: Msg): Promise<object> {
    try {
      const { orgId, command } = parseWebhookSubject(this.config.subjectPrefix, msg.subject);
      if (command === 'get') return { ok: true, orgId, endpoints: (await this.webhooks.endpoints(orgId)).map(endpointView) };
      const endpoints = parseWebhookEndpoints(readJson(msg.data, false));
      await Promise.all(endpoints.map((e, i) => this.guard.checkRegistration(e.url, `endpoints[${i}].url`)));
      const stored = await this.webhooks.replaceEndpoints(
        orgId,
        endpoints.map((e) => ({ url: e.url, secret: this.secrets.seal(orgId, e.url, e.secret) })),
      );
      this.logger.log({ msg: 'webhook endpoints replaced', orgId, endpoints: stored.length });
      return { ok: true, orgId, endpoints: stored.map(endpointView) };
    } catch (error) {
      if (error instanceof InputError || error instanceof WebhookTargetRefused) {
        // A URL refused for where it points may be a probe of our network: worth a line.
        if (error instanceof WebhookTargetRefused) this.logger.warn({ msg: 'webhook URL refused', subject: msg.subject, code: error.code, reason: error.message });
        return errorReply(error.code, error.message);
      }
      if (error instanceof WebhookResolveFailed) return errorReply(ErrorCode.UNAVAILABLE, `${error.message}; retry`);
      this.logger.warn({ msg: 'webhooks request failed', subject: msg.subject, error: String((error as Error)?.message ?? error) });
      return errorReply(ErrorCode.UNAVAILABLE, 'the webhook settings could not be read or written; retry');
    }
  }
}
