/**
 * When to try a failed webhook again: exponential backoff with jitter, capped, within a window
 * counted from the first attempt. Counting from the first attempt (not from the event's
 * publication) means a backlog the alert service finds after an outage still gets its full window.
 */

/** Wait before the first retry. */
export const FIRST_RETRY_DELAY_MS = 1_000;
/** Longest wait between two attempts: a receiver that comes back is found within this. */
export const MAX_RETRY_DELAY_MS = 5 * 60_000;
/** After this long since the first attempt, the delivery is recorded as failed and no longer retried. */
export const GIVE_UP_AFTER_MS = 24 * 3_600_000;
/** 2^30 times any base is past any cap; a larger exponent would only overflow. */
const MAX_BACKOFF_EXPONENT = 30;

export interface RetryPolicy {
  readonly firstRetryDelayMs: number;
  readonly maxRetryDelayMs: number;
  readonly giveUpAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  firstRetryDelayMs: FIRST_RETRY_DELAY_MS,
  maxRetryDelayMs: MAX_RETRY_DELAY_MS,
  giveUpAfterMs: GIVE_UP_AFTER_MS,
};

export type RetryDecision = { readonly kind: 'retry'; readonly delayMs: number } | { readonly kind: 'give-up' };

/** Throws on a policy that cannot work (checked once, at start). */
export function checkRetryPolicy(policy: RetryPolicy): RetryPolicy {
  const { firstRetryDelayMs, maxRetryDelayMs, giveUpAfterMs } = policy;
  if (!(Number.isSafeInteger(firstRetryDelayMs) && firstRetryDelayMs >= 1)) throw new Error(`firstRetryDelayMs must be a positive integer, got ${firstRetryDelayMs}`);
  if (!(Number.isSafeInteger(maxRetryDelayMs) && maxRetryDelayMs >= firstRetryDelayMs)) throw new Error(`maxRetryDelayMs (${maxRetryDelayMs}) must be at least firstRetryDelayMs (${firstRetryDelayMs})`);
  if (!(Number.isSafeInteger(giveUpAfterMs) && giveUpAfterMs >= 0)) throw new Error(`giveUpAfterMs must be a non-negative integer, got ${giveUpAfterMs}`);
  return policy;
}

/**
 * The wait after the `failedAttempts`-th failure (1 = the first attempt failed): the step
 * doubles from `firstRetryDelayMs` up to `maxRetryDelayMs`, and the wait is drawn between half
 * the step and the step ("equal jitter"), so events that failed together do not all come back
 * together, yet no retry comes much sooner than its step. `random` returns [0, 1).
 */
export function retryDelayMs(policy: RetryPolicy, failedAttempts: number, random: () => number): number {
  const exponent = Math.min(Math.max(failedAttempts, 1) - 1, MAX_BACKOFF_EXPONENT);
  const stepMs = Math.min(policy.maxRetryDelayMs, policy.firstRetryDelayMs * 2 ** exponent);
  const half = stepMs / 2;
  return Math.max(1, Math.round(half + random() * half));
}

/** True once the retry window that started at the first attempt is over. */
export function retryWindowOver(policy: RetryPolicy, firstAttemptAtMs: number, nowMs: number): boolean {
  return nowMs - firstAttemptAtMs >= policy.giveUpAfterMs;
}

/** What to do after a failed attempt; the last retry is placed at the end of the window rather than past it. */
export function afterFailure(policy: RetryPolicy, failedAttempts: number, firstAttemptAtMs: number, nowMs: number, random: () => number): RetryDecision {
  if (retryWindowOver(policy, firstAttemptAtMs, nowMs)) return { kind: 'give-up' };
  const untilWindowEndMs = firstAttemptAtMs + policy.giveUpAfterMs - nowMs;
  return { kind: 'retry', delayMs: Math.max(1, Math.min(retryDelayMs(policy, failedAttempts, random), untilWindowEndMs)) };
}
