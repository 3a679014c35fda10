import { envInt, envSetting } from '@billing/observability';
import { parseTrustedProxies, TrustedProxies } from './client-address';

/** How many of one kind of request a key (an organization, a client address) may make per window. */
export interface RateLimit {
  /** Requests allowed in any window of `windowSeconds` (a sliding window). */
  readonly limit: number;
  readonly windowSeconds: number;
}

/** The rate limits of the gateway (see README, "Edges"); in memory, per gateway process. */
export interface RateLimits {
  readonly topupsPerOrg: RateLimit;
  readonly topupsPerAddress: RateLimit;
  readonly redeemsPerOrg: RateLimit;
  readonly redeemsPerAddress: RateLimit;
  /** Failed authentications (HTTP 401s, refused socket handshakes) per client address. */
  readonly authFailuresPerAddress: RateLimit;
}

/** What the gateway lets through at its edge: proxies it believes, origins it grants, rates it allows. */
export interface EdgeConfig {
  /** Proxies whose X-Forwarded-For is believed (TRUSTED_PROXIES); none by default. */
  readonly trustedProxies: TrustedProxies;
  /** Origins granted CORS on the HTTP API and socket.io (CORS_ORIGINS); none by default: same origin only. */
  readonly corsOrigins: readonly string[];
  readonly rateLimits: RateLimits;
}

/** A user starts a top-up or two per visit: ten a minute is generous, a script hammering a provider is not. */
export const DEFAULT_TOPUPS_PER_ORG = 10;
/** An address may carry several organizations (an office behind NAT). */
export const DEFAULT_TOPUPS_PER_ADDRESS = 30;
export const DEFAULT_TOPUPS_WINDOW_SECONDS = 60;
/** Voucher codes are words people can guess: a handful of tries an hour. */
export const DEFAULT_REDEEMS_PER_ORG = 10;
export const DEFAULT_REDEEMS_PER_ADDRESS = 30;
export const DEFAULT_REDEEMS_WINDOW_SECONDS = 3600;
/** A browser with a stale token fails a few times before its portal gives it a new one. */
export const DEFAULT_AUTH_FAILURES_PER_ADDRESS = 20;
export const DEFAULT_AUTH_FAILURES_WINDOW_SECONDS = 300;
/** Bounds of every limit setting. */
const MAX_LIMIT = 1_000_000;
const MAX_WINDOW_SECONDS = 86_400;
/** More configured origins than this is a mistake, not a deployment. */
const MAX_CORS_ORIGINS = 100;

function rateLimit(env: NodeJS.ProcessEnv, limitName: string, limit: number, windowName: string, windowSeconds: number): RateLimit {
  return { limit: envInt(env, limitName, limit, 1, MAX_LIMIT), windowSeconds: envInt(env, windowName, windowSeconds, 1, MAX_WINDOW_SECONDS) };
}

/**
 * CORS_ORIGINS: comma-separated origins (`https://portal.example.com`), each exactly an origin
 * (scheme, host, port; no path, no wildcard). Credentials are never granted: the API takes
 * bearer tokens, not cookies.
 */
export function parseCorsOrigins(value: string | undefined): string[] {
  const entries = (value ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (entries.length > MAX_CORS_ORIGINS) throw new Error(`CORS_ORIGINS names more than ${MAX_CORS_ORIGINS} origins`);
  return entries.map((entry) => {
    let origin: string | null = null;
    try {
      const url = new URL(entry);
      if ((url.protocol === 'https:' || url.protocol === 'http:') && !entry.includes('*') && url.origin === entry.replace(/\/$/, '')) origin = url.origin;
    } catch {
      origin = null;
    }
    if (!origin) throw new Error(`CORS_ORIGINS: '${entry}' is not an origin (scheme://host[:port], no path, no wildcard)`);
    return origin;
  });
}

export function loadEdgeConfig(env: NodeJS.ProcessEnv = process.env): EdgeConfig {
  const w = 'WINDOW_SECONDS';
  return {
    trustedProxies: parseTrustedProxies(envSetting(env, 'TRUSTED_PROXIES')),
    corsOrigins: parseCorsOrigins(envSetting(env, 'CORS_ORIGINS')),
    rateLimits: {
      topupsPerOrg: rateLimit(env, 'RATE_LIMIT_TOPUPS_PER_ORG', DEFAULT_TOPUPS_PER_ORG, `RATE_LIMIT_TOPUPS_${w}`, DEFAULT_TOPUPS_WINDOW_SECONDS),
      topupsPerAddress: rateLimit(env, 'RATE_LIMIT_TOPUPS_PER_ADDRESS', DEFAULT_TOPUPS_PER_ADDRESS, `RATE_LIMIT_TOPUPS_${w}`, DEFAULT_TOPUPS_WINDOW_SECONDS),
      redeemsPerOrg: rateLimit(env, 'RATE_LIMIT_REDEEMS_PER_ORG', DEFAULT_REDEEMS_PER_ORG, `RATE_LIMIT_REDEEMS_${w}`, DEFAULT_REDEEMS_WINDOW_SECONDS),
      redeemsPerAddress: rateLimit(env, 'RATE_LIMIT_REDEEMS_PER_ADDRESS', DEFAULT_REDEEMS_PER_ADDRESS, `RATE_LIMIT_REDEEMS_${w}`, DEFAULT_REDEEMS_WINDOW_SECONDS),
      authFailuresPerAddress: rateLimit(env, 'RATE_LIMIT_AUTH_FAILURES_PER_ADDRESS', DEFAULT_AUTH_FAILURES_PER_ADDRESS, `RATE_LIMIT_AUTH_FAILURES_${w}`, DEFAULT_AUTH_FAILURES_WINDOW_SECONDS),
    },
  };
}
