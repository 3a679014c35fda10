import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, errorReply, InputError, readJson } from '@billing/contracts';
import { WebhookEndpoint, WebhookRepository } from '@billing/persistence';
import { Msg, NatsConnection, Subscription } from 'nats';
import { WebhookTargetRefused } from './alerts-error-codes';
import { AlertsConfig } from './alerts.config';
import { ALERTS_CONFIG, ALERTS_NATS } from './tokens';
import { parseWebhookEndpoints, parseWebhookSubject, webhookCommandWildcard } from './webhook-commands';
import { WebhookSecrets } from './webhook-secrets';
import { WebhookResolveFailed, WebhookTargetGuard } from './webhook-target-guard';

/** What an organization sees of an endpoint: never the secret, which it already has. */
function endpointView(e: WebhookEndpoint) {
  return { id: e.id, url: e.url, createdAt: e.createdAt.toISOString() };
}

/**
 * The webhook configuration's NATS face, request/reply in plain JSON like the wallet's:
 * `<prefix>.alerts.<orgId>.webhooks.set` and `.get`. Input is checked before the database is
 * touched: the syntax, then where each URL points (the guard resolves its host); a refused list
 * changes nothing. Secrets are sealed before they are written.
 */
@Injectable()
export class WebhooksNatsHandler {
  private readonly logger = new Logger('WebhooksNatsHandler');
  private subscription: Subscription | null = null;

  constructor(
    @Inject(ALERTS_CONFIG) private readonly config: AlertsConfig,
    @Inject(ALERTS_NATS) private readonly nc: NatsConnection,
    private readonly webhooks: WebhookRepository,
    private readonly guard: WebhookTargetGuard,
    private readonly secrets: WebhookSecrets,
  ) {}

  listen(): void {
    this.subscription = this.nc.subscribe(webhookCommandWildcard(this.config.subjectPrefix), {
      queue: this.config.queueGroup,
      callback: (error, msg) => {
        if (error) {
          this.logger.error({ msg: 'webhooks subscription error', error: String(error) });
          return;
        }
        void this.handle(msg);
      },
    });
  }

  async drain(): Promise<void> {
    await this.subscription?.drain();
  }

  private async handle(msg: Msg): Promise<void> {
    const reply = (body: object) => {
      if (msg.reply) msg.respond(Buffer.from(JSON.stringify(body)));
    };
    try {
      const { orgId, command } = parseWebhookSubject(this.config.subjectPrefix, msg.subject);
      if (command === 'get') {
        reply({ ok: true, orgId, endpoints: (await this.webhooks.endpoints(orgId)).map(endpointView) });
        return;
      }
      const endpoints = parseWebhookEndpoints(readJson(msg.data, false));
      await Promise.all(endpoints.map((e, i) => this.guard.checkRegistration(e.url, `endpoints[${i}].url`)));
      const stored = await this.webhooks.replaceEndpoints(
        orgId,
        endpoints.map((e) => ({ url: e.url, secret: this.secrets.seal(orgId, e.url, e.secret) })),
      );
      this.logger.log({ msg: 'webhook endpoints replaced', orgId, endpoints: stored.length });
      reply({ ok: true, orgId, endpoints: stored.map(endpointView) });
    } catch (error) {
      if (error instanceof InputError || error instanceof WebhookTargetRefused) {
        // A URL refused for where it points may be a probe of our network: worth a line.
        if (error instanceof WebhookTargetRefused) this.logger.warn({ msg: 'webhook URL refused', subject: msg.subject, code: error.code, reason: error.message });
        reply(errorReply(error.code, error.message));
        return;
      }
      if (error instanceof WebhookResolveFailed) {
        reply(errorReply(ErrorCode.UNAVAILABLE, `${error.message}; retry`));
        return;
      }
      this.logger.warn({ msg: 'webhooks request failed', subject: msg.subject, error: String((error as Error)?.message ?? error) });
      reply(errorReply(ErrorCode.UNAVAILABLE, 'the webhook settings could not be read or written; retry'));
    }
  }
}
