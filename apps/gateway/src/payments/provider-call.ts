import { setTimeout as sleep } from 'timers/promises';

/**
 * How the gateway calls a payment provider's API, the same for the three. Each attempt has a
 * timeout. An answer that means "not now" (429, a 5xx, a connection that failed or timed out) is
 * tried again after an exponential backoff with jitter, or after the provider's Retry-After when
 * it gives one; anything else (a decline, a request refused as it stands, bad credentials) is
 * final at once. Every call that changes something carries the provider's idempotency key
 * (Stripe's Idempotency-Key, PayPal-Request-Id, VNPAY's vnp_RequestId), the same in every
 * attempt, so an attempt whose answer was lost is replayed by the provider, never done twice.
 * Calls are made by services outside any database transaction (the repositories open none).
 */
export interface ProviderCallPolicy {
  /** Each attempt is abandoned after this long. */
  readonly timeoutMs: number;
  /** Attempts after the first, for answers that mean "not now". */
  readonly maxRetries: number;
  /** The first backoff; it doubles with each retry, and half to all of it is waited (jitter). */
  readonly retryBaseMs: number;
  /** No wait is longer: a backoff is cut to this, and a Retry-After asking more is not waited for (the call fails: someone is waiting). */
  readonly maxRetryDelayMs: number;
}

export const DEFAULT_PROVIDER_TIMEOUT_MS = 10_000;
export const DEFAULT_PROVIDER_MAX_RETRIES = 2;
export const DEFAULT_PROVIDER_RETRY_BASE_MS = 250;
export const DEFAULT_PROVIDER_MAX_RETRY_DELAY_MS = 5_000;

export const DEFAULT_PROVIDER_CALL_POLICY: ProviderCallPolicy = {
  timeoutMs: DEFAULT_PROVIDER_TIMEOUT_MS,
  maxRetries: DEFAULT_PROVIDER_MAX_RETRIES,
  retryBaseMs: DEFAULT_PROVIDER_RETRY_BASE_MS,
  maxRetryDelayMs: DEFAULT_PROVIDER_MAX_RETRY_DELAY_MS,
};

export type PaymentProviderName = 'stripe' | 'paypal' | 'vnpay';

/**
 * What went wrong, in the terms a caller decides on:
 * - `declined`: the payer's instrument or the provider refused the payment or refund (final);
 * - `invalid`: our request was refused as it stands: bad parameters, unknown object, wrong state (final);
 * - `unauthorized`: our credentials or signature were refused (final: a configuration error);
 * - `conflict`: an idempotency key reused with other parameters (final: a bug);
 * - `rate_limited`: 429, still after the retries, or asked to wait longer than we may;
 * - `unavailable`: 5xx, timeouts, connections failed, or an answer that cannot be read, still after the retries.
 */
export type ProviderErrorKind = 'declined' | 'invalid' | 'unauthorized' | 'conflict' | 'rate_limited' | 'unavailable';

export class ProviderError extends Error {
  constructor(
    readonly provider: PaymentProviderName,
    readonly kind: ProviderErrorKind,
    message: string,
    readonly details: {
      /** The HTTP status, when the provider answered. */
      readonly status?: number;
      /** The provider's own code (Stripe's `code`, PayPal's `details[0].issue` or `name`, VNPAY's `vnp_ResponseCode`). */
      readonly code?: string;
      /** How long the provider asked us to wait (Retry-After). */
      readonly retryAfterMs?: number;
      /** The provider said whether a retry can help (Stripe-Should-Retry); otherwise the kind decides. */
      readonly retryable?: boolean;
    } = {},
  ) {
    super(`${provider}: ${message}`);
    this.name = 'ProviderError';
  }

  get retryable(): boolean {
    return this.details.retryable ?? (this.kind === 'rate_limited' || this.kind === 'unavailable');
  }
}

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 10.2.3), in ms from now; null if absent or unreadable. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | null {
  if (!value) return null;
  const text = value.trim();
  if (/^[0-9]{1,9}$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** The wait before retry number `retry` (0-based): base x 2^retry, at most the cap, half to all of it. */
export function backoffMs(policy: ProviderCallPolicy, retry: number, random: () => number = Math.random): number {
  const full = Math.min(policy.retryBaseMs * 2 ** retry, policy.maxRetryDelayMs);
  return Math.round(full * (0.5 + 0.5 * random()));
}

export interface RetryHooks {
  /** Told before each wait (the clients log it). */
  readonly onRetry?: (error: ProviderError, retry: number, waitMs: number) => void;
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly random?: () => number;
}

/**
 * Runs `attempt` until it succeeds, fails for good, or the retries are spent. `attempt` throws
 * a ProviderError for what the provider said; anything else is a bug and is not retried.
 */
export async function withRetries<T>(policy: ProviderCallPolicy, attempt: (attemptNumber: number) => Promise<T>, hooks: RetryHooks = {}): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt(retry + 1);
    } catch (error) {
      if (!(error instanceof ProviderError) || !error.retryable || retry >= policy.maxRetries) throw error;
      const asked = error.details.retryAfterMs;
      // A provider asking for a longer pause than anyone should wait for: give up now rather than hold the caller.
      if (asked !== undefined && asked > policy.maxRetryDelayMs) throw error;
      const waitMs = asked ?? backoffMs(policy, retry, hooks.random);
      hooks.onRetry?.(error, retry + 1, waitMs);
      await (hooks.sleep ?? sleep)(waitMs);
    }
  }
}

/** An HTTP answer read whole (bounded): providers' API answers are small JSON documents. */
export interface ProviderHttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** Providers' answers are a few kilobytes; a larger one is not theirs to send (or not read whole). */
export const MAX_PROVIDER_ANSWER_BYTES = 1024 * 1024;

/**
 * One HTTP attempt with its timeout: a connection failure, a timeout or an oversized answer is
 * `unavailable` (retryable); any answer received is returned for the client to read.
 */
export async function httpAttempt(provider: PaymentProviderName, url: string, init: RequestInit, timeoutMs: number, fetchImpl: typeof fetch = fetch): Promise<ProviderHttpAnswer> {
  let response: Response;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    response = await fetchImpl(url, { ...init, signal, redirect: 'error' });
  } catch (error) {
    const timedOut = signal.aborted;
    throw new ProviderError(provider, 'unavailable', timedOut ? `no answer within ${timeoutMs} ms` : `connection failed: ${(error as Error).message}`);
  }
  let text: string;
  try {
    const declared = Number(response.headers.get('content-length'));
    if (declared > MAX_PROVIDER_ANSWER_BYTES) throw new Error(`an answer of ${declared} bytes`);
    text = await response.text();
    if (Buffer.byteLength(text) > MAX_PROVIDER_ANSWER_BYTES) throw new Error('an answer over the size limit');
  } catch (error) {
    const timedOut = signal.aborted;
    throw new ProviderError(provider, 'unavailable', timedOut ? `the answer did not arrive within ${timeoutMs} ms` : `unreadable answer: ${(error as Error).message}`, { status: response.status });
  }
  return { status: response.status, headers: response.headers, text };
}

/** The JSON of an answer; an answer that is not JSON is `unavailable` (a proxy's error page, a cut body). */
export function jsonOf(provider: PaymentProviderName, answer: ProviderHttpAnswer): Record<string, unknown> {
  try {
    const value: unknown = answer.text === '' ? {} : JSON.parse(answer.text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ProviderError(provider, 'unavailable', `answered ${answer.status} with a body that is not a JSON object`, { status: answer.status });
}

/** The kind an HTTP status means when the provider's body says no more: 429 and 5xx retryable, other 4xx final. */
export function kindOfStatus(status: number): ProviderErrorKind {
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'unavailable';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 409) return 'conflict';
  return 'invalid';
}
