import { HttpException } from '@nestjs/common';

/** The error code of every 429 the gateway's own limits answer (the engine's MAILBOX_FULL is another matter). */
export const RATE_LIMITED = 'RATE_LIMITED';

/** What a limited caller gets: 429, `Retry-After` in whole seconds, the engine's error body. */
export class RateLimitedException extends HttpException {
  constructor(readonly retryAfterSeconds: number, message: string) {
    super({ ok: false, error: { code: RATE_LIMITED, message: `${message}; retry after ${retryAfterSeconds} s` } }, 429);
  }
}

/** Sets Retry-After on an express response (the gateway has no express typings). */
export function setRetryAfter(response: { setHeader?: (name: string, value: string) => unknown }, seconds: number): void {
  response.setHeader?.('Retry-After', String(seconds));
}

/** At least one second: a Retry-After of 0 would invite an immediate retry that is refused again. */
export function retryAfterSeconds(secondsLeft: number): number {
  return Math.max(1, Math.ceil(secondsLeft));
}
