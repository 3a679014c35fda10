import { DEFAULT_DATABASE_URL } from '@billing/persistence';
import { DEFAULT_NATS_URL, NatsAuth, natsAuth } from '@billing/messaging';

/** The gateway's settings, read and checked once at start. */
export interface GatewayConfig {
  readonly port: number;
  readonly natsUrl: string;
  /** The gateway connects as the NATS user `gateway` (NATS_PASSWORD_GATEWAY or NATS_CREDS; TLS settings). */
  readonly nats: NatsAuth;
  readonly databaseUrl: string;
  readonly subjectPrefix: string;
  /** HS256 secret of the browser tokens (claims: `org`, optional `role: "admin"`, `exp`). */
  readonly jwtSecret: string;
  /** Pushes to one organization's sockets are at least this far apart: bursts coalesce, latest state wins. */
  readonly pushIntervalMs: number;
  /** How long a request to the billing engine may take. */
  readonly requestTimeoutMs: number;
}

export const DEV_JWT_SECRET = 'dev-only-secret-change-me';

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const port = Number(env.GATEWAY_PORT ?? env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`GATEWAY_PORT must be a port number, got '${env.GATEWAY_PORT}'`);
  const prefix = env.SUBJECT_PREFIX ?? 'billing';
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new Error(`SUBJECT_PREFIX '${prefix}' is not a NATS token`);
  const secret = env.JWT_SECRET ?? DEV_JWT_SECRET;
  if (secret.length < 16) throw new Error('JWT_SECRET must be at least 16 characters');
  return {
    port,
    natsUrl: env.NATS_URL || DEFAULT_NATS_URL,
    nats: natsAuth('gateway', env),
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
    subjectPrefix: prefix,
    jwtSecret: secret,
    pushIntervalMs: Number(env.PUSH_INTERVAL_MS ?? 100),
    requestTimeoutMs: Number(env.GATEWAY_REQUEST_TIMEOUT_MS ?? 10_000),
  };
}
