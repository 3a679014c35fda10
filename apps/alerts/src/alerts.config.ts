import { DEFAULT_NATS_URL } from '@billing/messaging';
import { DEFAULT_DATABASE_URL } from '@billing/persistence';
import { checkRetryPolicy, FIRST_RETRY_DELAY_MS, GIVE_UP_AFTER_MS, MAX_RETRY_DELAY_MS, RetryPolicy } from './retry-policy';

/** How long one webhook request may take before it counts as failed, by default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** How long JetStream waits for an acknowledgement before redelivering, by default: what a crash costs in delay. */
export const DEFAULT_ACK_WAIT_MS = 60_000;

/** The alert service's settings, read and checked once at start; every default runs on a development machine. */
export interface AlertsConfig {
  readonly databaseUrl: string;
  readonly natsUrl: string;
  /** First token of every subject; the billing engine's (`billing.events...`, `billing.alerts...`). */
  readonly subjectPrefix: string;
  /** The billing engine's event stream. */
  readonly eventsStream: string;
  /** Durable consumer name: alert service processes sharing it share the events. */
  readonly consumerName: string;
  /** NATS queue group of the webhook configuration commands. */
  readonly queueGroup: string;
  readonly dbPoolMax: number;
  readonly ackWaitMs: number;
  readonly requestTimeoutMs: number;
  readonly retry: RetryPolicy;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  return n;
}

function token(env: NodeJS.ProcessEnv, name: string, fallback: string, pattern: RegExp): string {
  const v = env[name] || fallback;
  if (!pattern.test(v)) throw new Error(`${name} '${v}' does not match ${pattern}`);
  return v;
}

export function loadAlertsConfig(env: NodeJS.ProcessEnv = process.env): AlertsConfig {
  return {
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
    natsUrl: env.NATS_URL || DEFAULT_NATS_URL,
    subjectPrefix: token(env, 'SUBJECT_PREFIX', 'billing', /^[A-Za-z0-9_-]+$/),
    eventsStream: token(env, 'EVENTS_STREAM', 'BILLING_EVENTS', /^[A-Za-z0-9_-]+$/),
    consumerName: token(env, 'ALERTS_CONSUMER', 'alerts', /^[A-Za-z0-9_-]+$/),
    queueGroup: token(env, 'ALERTS_QUEUE_GROUP', 'alerts', /^[A-Za-z0-9_.-]+$/),
    dbPoolMax: int(env, 'ALERTS_DB_POOL_MAX', 5, 2, 200),
    ackWaitMs: int(env, 'ALERTS_ACK_WAIT_MS', DEFAULT_ACK_WAIT_MS, 1_000, 3_600_000),
    requestTimeoutMs: int(env, 'ALERTS_REQUEST_TIMEOUT_MS', DEFAULT_REQUEST_TIMEOUT_MS, 100, 120_000),
    retry: checkRetryPolicy({
      firstRetryDelayMs: int(env, 'ALERTS_RETRY_BASE_MS', FIRST_RETRY_DELAY_MS, 1, 3_600_000),
      maxRetryDelayMs: int(env, 'ALERTS_RETRY_MAX_MS', MAX_RETRY_DELAY_MS, 1, 86_400_000),
      giveUpAfterMs: int(env, 'ALERTS_GIVE_UP_AFTER_MS', GIVE_UP_AFTER_MS, 0, 30 * 86_400_000),
    }),
  };
}
