import { CanActivate, ExecutionContext, HttpException, Inject, Injectable } from '@nestjs/common';
import { InjectThrottlerStorage, ThrottlerStorage } from '@nestjs/throttler';
import { IncomingMessage } from 'http';
import { GATEWAY_CONFIG } from '../tokens';
import { GatewayConfig } from '../config';
import { clientAddress } from './client-address';
import { addressKey } from './rate-limit.guard';
import { RateLimitedException, retryAfterSeconds, setRetryAfter } from './rate-limited';

/** Addresses remembered as refused at once; past this the oldest go first (each would soon be let go anyway). */
const MAX_REFUSED_ADDRESSES = 100_000;
const THROTTLER_NAME = 'auth-failures-per-address';

/**
 * Failed authentications per client address (bad, forged or expired tokens, over HTTP and at
 * socket handshakes), counted in the throttler's storage. Past the limit, the address is refused
 * every authentication, good tokens included, until its oldest failure leaves the window:
 * otherwise guessing would go on at full speed, each success slipping through. Counted per
 * address only: the organization a failed token names is the sender's choice, and counting it
 * would let anyone lock an organization out.
 */
@Injectable()
export class AuthFailureLimiter {
  /** address key -> refused until (ms since the epoch). */
  private readonly refusedUntil = new Map<string, number>();

  constructor(@InjectThrottlerStorage() private readonly storage: ThrottlerStorage, @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  /** The address of an HTTP request or a socket.io handshake, per the trusted proxies. */
  addressOf(request: Pick<IncomingMessage, 'headers' | 'socket'>): string {
    return addressKey(clientAddress(request, this.config.edge.trustedProxies));
  }

  /** Seconds before the address may authenticate again; null if it may now. */
  refusedFor(address: string, nowMs = Date.now()): number | null {
    const until = this.refusedUntil.get(address);
    if (until === undefined) return null;
    if (until <= nowMs) {
      this.refusedUntil.delete(address);
      return null;
    }
    return retryAfterSeconds((until - nowMs) / 1000);
  }

  /** Counts a failure; the seconds to wait if this one went past the limit, else null. */
  async failed(address: string, nowMs = Date.now()): Promise<number | null> {
    const { limit, windowSeconds } = this.config.edge.rateLimits.authFailuresPerAddress;
    const record = await this.storage.increment(`${THROTTLER_NAME}:${address}`, windowSeconds * 1000, limit, 0, THROTTLER_NAME);
    if (!record.isBlocked) return null;
    const seconds = retryAfterSeconds(record.timeToBlockExpire);
    if (this.refusedUntil.size >= MAX_REFUSED_ADDRESSES) {
      for (const [key, until] of this.refusedUntil) if (until <= nowMs) this.refusedUntil.delete(key);
      if (this.refusedUntil.size >= MAX_REFUSED_ADDRESSES) this.refusedUntil.delete(this.refusedUntil.keys().next().value!);
    }
    this.refusedUntil.set(address, nowMs + seconds * 1000);
    return seconds;
  }

  exception(seconds: number): RateLimitedException {
    return new RateLimitedException(seconds, 'too many failed authentications from this address');
  }

  /**
   * What to answer for `exception`. Every 401 the gateway answers, whichever guard refused
   * (tokens, operator credentials, health details), counts as a failed authentication of the
   * client's address; past the limit it is answered 429 with Retry-After instead. Other
   * exceptions, and provider webhooks, are answered as they are. (HttpErrorFilter calls this.)
   */
  async answerFor(exception: HttpException, request: Request, response: { setHeader?: (name: string, value: string) => unknown }): Promise<HttpException> {
    if (exception.getStatus() !== 401 || isProviderWebhook(request)) return exception;
    const address = this.addressOf(request);
    const seconds = this.refusedFor(address) ?? (await this.failed(address));
    if (seconds === null) return exception;
    setRetryAfter(response, seconds);
    return this.exception(seconds);
  }
}

/** What this file needs of express's request. */
type Request = IncomingMessage & { path?: string; url?: string };

/**
 * Runs before every route's own guards: a request that presents credentials from an address
 * refused for failed authentications gets 429 before they are looked at. Provider webhooks are
 * never refused (they are verified by their signatures, and the providers send from shared addresses).
 */
@Injectable()
export class AuthFailureGuard implements CanActivate {
  constructor(private readonly limiter: AuthFailureLimiter) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<Request>();
    if (isProviderWebhook(request) || request.headers.authorization === undefined) return true;
    const seconds = this.limiter.refusedFor(this.limiter.addressOf(request));
    if (seconds === null) return true;
    setRetryAfter(context.switchToHttp().getResponse(), seconds);
    throw this.limiter.exception(seconds);
  }
}

/** Provider webhooks (`/webhooks/*`): never counted nor refused, and answered in their providers' formats. */
export function isProviderWebhook(request: Pick<Request, 'path' | 'url'>): boolean {
  return (request.path ?? request.url ?? '').startsWith('/webhooks/');
}
