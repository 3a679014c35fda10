import { DEFAULT_DATABASE_URL, loadShardConfig, ShardConfig } from '@billing/persistence';
import { DEFAULT_NATS_URL, NatsAuth, natsAuth } from '@billing/messaging';
import { envInt, envSetting, guardedSetting, healthDetailsToken } from '@billing/observability';
import { DashboardConfig, loadDashboardConfig } from './dashboard/dashboard.config';
import { EdgeConfig, loadEdgeConfig } from './edge/edge.config';
import { JWT_SECRET_SETTING } from './gateway.secrets';
import { loadOperatorSettings, OperatorSettings } from './operator/operator.config';
import { loadPaymentsConfig, PaymentsConfig } from './payments/payments.config';

/** What a browser or API token must carry and may last (see README, "Tokens"). */
export interface TokenSettings {
  /** HS256 secret of the tokens. */
  readonly secret: string;
  /** `iss` every token must carry. */
  readonly issuer: string;
  /** `aud` every token must carry (or list). */
  readonly audience: string;
  /** A token whose `exp - iat` is longer than this is refused, whoever signed it. */
  readonly maxLifetimeSeconds: number;
}

/** The gateway's settings, read and checked once at start. */
export interface GatewayConfig {
  readonly port: number;
  readonly natsUrl: string;
  /** The gateway connects as the NATS user `gateway` (NATS_PASSWORD_GATEWAY or NATS_CREDS; TLS settings). */
  readonly nats: NatsAuth;
  /** The global home: the gateway's tables (topup_intents, ...). */
  readonly databaseUrl: string;
  /**
   * `PARTITIONS`, `SHARDS`, `SHARD_MAP`, as the engine's (the same values in every process): where
   * each organization's ledger is, which the payment mismatch report reads.
   */
  readonly sharding: ShardConfig;
  readonly subjectPrefix: string;
  /** Browser and API tokens of organizations (claims: `iss`, `aud`, `iat`, `exp`, `org`). */
  readonly tokens: TokenSettings;
  /** The operator API: operator tokens (another secret, another audience) and the NATS user `operator`. */
  readonly operators: OperatorSettings;
  /** Pushes to one organization's sockets are at least this far apart: bursts coalesce, latest state wins. */
  readonly pushIntervalMs: number;
  /** How long a request to the billing engine may take. */
  readonly requestTimeoutMs: number;
  /** Trusted proxies, CORS origins and rate limits (TRUSTED_PROXIES, CORS_ORIGINS, RATE_LIMIT_*). */
  readonly edge: EdgeConfig;
  /** Bearer token of /health/details (HEALTH_DETAILS_TOKEN); null: details for no one. */
  readonly healthDetailsToken: string | null;
  /** The payment providers: their clients (PAYMENT_PROVIDERS, base URLs, credentials, timeouts), webhooks and sweep. */
  readonly payments: PaymentsConfig;
  /** The dashboard's card payments (STRIPE_PUBLISHABLE_KEY, STRIPE_JS_URL) and where it sends a user for a new token (DASHBOARD_SIGN_IN_URL). */
  readonly dashboard: DashboardConfig;
}

export const DEFAULT_JWT_ISSUER = 'gpu-billing';
export const DEFAULT_JWT_AUDIENCE = 'gpu-billing-portal';
/** One hour: a stolen token is worth little for long, and a browser session asks its portal for a new one. */
export const DEFAULT_JWT_MAX_LIFETIME_SECONDS = 3600;
/** Whatever the setting, no token lives longer than a day. */
export const MAX_JWT_LIFETIME_SECONDS = 86_400;
/** Development accepts a shorter secret than production (32, see gateway.secrets.ts). */
const MIN_DEV_JWT_SECRET_LENGTH = 16;

const CLAIM_TEXT = /^[\x21-\x7e]{1,200}$/;

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const port = Number(env.GATEWAY_PORT ?? env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`GATEWAY_PORT must be a port number, got '${env.GATEWAY_PORT}'`);
  const prefix = env.SUBJECT_PREFIX ?? 'billing';
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new Error(`SUBJECT_PREFIX '${prefix}' is not a NATS token`);
  const secret = guardedSetting(env, JWT_SECRET_SETTING);
  if (secret.length < MIN_DEV_JWT_SECRET_LENGTH) throw new Error(`JWT_SECRET must be at least ${MIN_DEV_JWT_SECRET_LENGTH} characters`);
  const issuer = envSetting(env, 'JWT_ISSUER') ?? DEFAULT_JWT_ISSUER;
  const audience = envSetting(env, 'JWT_AUDIENCE') ?? DEFAULT_JWT_AUDIENCE;
  for (const [name, value] of [['JWT_ISSUER', issuer], ['JWT_AUDIENCE', audience]]) {
    if (!CLAIM_TEXT.test(value)) throw new Error(`${name} must be 1 to 200 printable characters without spaces, got '${value}'`);
  }
  const payments = loadPaymentsConfig(env);
  const databaseUrl = envSetting(env, 'DATABASE_URL') ?? DEFAULT_DATABASE_URL;
  return {
    port,
    natsUrl: env.NATS_URL || DEFAULT_NATS_URL,
    nats: natsAuth('gateway', env),
    databaseUrl,
    sharding: loadShardConfig(env, databaseUrl),
    subjectPrefix: prefix,
    tokens: {
      secret,
      issuer,
      audience,
      maxLifetimeSeconds: envInt(env, 'JWT_MAX_LIFETIME_SECONDS', DEFAULT_JWT_MAX_LIFETIME_SECONDS, 60, MAX_JWT_LIFETIME_SECONDS),
    },
    // 50 ms: a change reaches a watching browser within 100 ms (p99) even when its organization
    // changes faster than that (README, Benchmark); 20 pushes a second at most.
    pushIntervalMs: envInt(env, 'PUSH_INTERVAL_MS', 50, 10, 10_000),
    requestTimeoutMs: Number(env.GATEWAY_REQUEST_TIMEOUT_MS ?? 10_000),
    edge: loadEdgeConfig(env),
    healthDetailsToken: healthDetailsToken(env),
    operators: loadOperatorSettings(env, { secret, issuer, audience }),
    payments,
    dashboard: loadDashboardConfig(env, payments.stripe.secretKey),
  };
}
