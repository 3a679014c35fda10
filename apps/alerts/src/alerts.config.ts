import { DEFAULT_NATS_URL, jetStreamReplicas, NatsAuth, natsAuth } from '@billing/messaging';
import { DEFAULT_DATABASE_URL } from '@billing/persistence';
import { checkRetryPolicy, FIRST_RETRY_DELAY_MS, GIVE_UP_AFTER_MS, MAX_RETRY_DELAY_MS, RetryPolicy } from './retry-policy';
import { loadWebhookSecurityConfig, WebhookSecurityConfig } from './webhook-security.config';
import { envInt, envSetting, envToken, healthDetailsToken } from '@billing/observability';

/** How long one webhook request may take before it counts as failed, by default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** How long JetStream waits for an acknowledgement before redelivering, by default: what a crash costs in delay. */
export const DEFAULT_ACK_WAIT_MS = 60_000;
/** `/health` and `/metrics`, by default: next to the gateway's 3000 and the engine's 3001 (3002 for a second engine). */
export const DEFAULT_ALERTS_HTTP_PORT = 3003;

/** The alert service's settings, read and checked once at start; every default runs on a development machine. */
export interface AlertsConfig {
  readonly databaseUrl: string;
  readonly natsUrl: string;
  /** The alert service connects as the NATS user `alerts` (NATS_PASSWORD_ALERTS or NATS_CREDS; TLS settings). */
  readonly nats: NatsAuth;
  /** First token of every subject; the billing engine's (`billing.events...`, `billing.alerts...`). */
  readonly subjectPrefix: string;
  /** The billing engine's event stream. */
  readonly eventsStream: string;
  /** `JETSTREAM_REPLICAS`: copies of the event stream if this service creates it (the engine's value). */
  readonly jetStreamReplicas: number;
  /** Durable consumer name: alert service processes sharing it share the events. */
  readonly consumerName: string;
  /** NATS queue group of the webhook configuration commands. */
  readonly queueGroup: string;
  /** `/health` and `/metrics` only: webhooks are configured over NATS. 0: any free port. */
  readonly httpPort: number;
  /** Bearer token of /health/details (HEALTH_DETAILS_TOKEN); null: details for no one. */
  readonly healthDetailsToken: string | null;
  readonly dbPoolMax: number;
  readonly ackWaitMs: number;
  readonly requestTimeoutMs: number;
  readonly retry: RetryPolicy;
  /** Where webhooks may go (https in production, public addresses) and the keys of their secrets at rest. */
  readonly webhookSecurity: WebhookSecurityConfig;
}

export function loadAlertsConfig(env: NodeJS.ProcessEnv = process.env): AlertsConfig {
  return {
    databaseUrl: envSetting(env, 'DATABASE_URL') ?? DEFAULT_DATABASE_URL,
    natsUrl: env.NATS_URL || DEFAULT_NATS_URL,
    nats: natsAuth('alerts', env),
    subjectPrefix: envToken(env, 'SUBJECT_PREFIX', 'billing', /^[A-Za-z0-9_-]+$/),
    eventsStream: envToken(env, 'EVENTS_STREAM', 'BILLING_EVENTS', /^[A-Za-z0-9_-]+$/),
    jetStreamReplicas: jetStreamReplicas(env),
    consumerName: envToken(env, 'ALERTS_CONSUMER', 'alerts', /^[A-Za-z0-9_-]+$/),
    queueGroup: envToken(env, 'ALERTS_QUEUE_GROUP', 'alerts', /^[A-Za-z0-9_.-]+$/),
    httpPort: envInt(env, 'ALERTS_HTTP_PORT', DEFAULT_ALERTS_HTTP_PORT, 0, 65_535),
    healthDetailsToken: healthDetailsToken(env),
    dbPoolMax: envInt(env, 'ALERTS_DB_POOL_MAX', 5, 2, 200),
    ackWaitMs: envInt(env, 'ALERTS_ACK_WAIT_MS', DEFAULT_ACK_WAIT_MS, 1_000, 3_600_000),
    requestTimeoutMs: envInt(env, 'ALERTS_REQUEST_TIMEOUT_MS', DEFAULT_REQUEST_TIMEOUT_MS, 100, 120_000),
    retry: checkRetryPolicy({
      firstRetryDelayMs: envInt(env, 'ALERTS_RETRY_BASE_MS', FIRST_RETRY_DELAY_MS, 1, 3_600_000),
      maxRetryDelayMs: envInt(env, 'ALERTS_RETRY_MAX_MS', MAX_RETRY_DELAY_MS, 1, 86_400_000),
      giveUpAfterMs: envInt(env, 'ALERTS_GIVE_UP_AFTER_MS', GIVE_UP_AFTER_MS, 0, 30 * 86_400_000),
    }),
    webhookSecurity: loadWebhookSecurityConfig(env),
  };
}
