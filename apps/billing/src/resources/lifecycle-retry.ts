/**
 * When a lifecycle message that failed for a passing reason (database down, organization moving
 * between processes, a peer not answering) comes back. There is no last attempt: JetStream
 * redelivers it for as long as it takes (the consumer's `max_deliver` is -1), so the wait only
 * paces the retries; it never ends them.
 */

/** Wait after the first failed delivery. */
export const LIFECYCLE_FIRST_RETRY_DELAY_MS = 1_000;
/** Longest wait between two deliveries of one message: once the cause is gone, it is applied within this. */
export const LIFECYCLE_MAX_RETRY_DELAY_MS = 30_000;
/** 2^30 times the first delay is past the cap; a larger exponent would only overflow. */
const MAX_BACKOFF_EXPONENT = 30;

/**
 * The wait before the next delivery of a message delivered `deliveryCount` times (1: its first
 * delivery failed). The step doubles from the first delay up to the cap, and the wait is drawn
 * between half the step and the step, so the messages that failed together in an outage do not
 * all come back at the same instant. `random` returns [0, 1).
 */
export function lifecycleRetryDelayMs(deliveryCount: number, random: () => number): number {
  const count = Number.isFinite(deliveryCount) ? Math.max(Math.floor(deliveryCount), 1) : 1;
  const exponent = Math.min(count - 1, MAX_BACKOFF_EXPONENT);
  const stepMs = Math.min(LIFECYCLE_MAX_RETRY_DELAY_MS, LIFECYCLE_FIRST_RETRY_DELAY_MS * 2 ** exponent);
  const half = stepMs / 2;
  return Math.max(1, Math.round(half + random() * half));
}
