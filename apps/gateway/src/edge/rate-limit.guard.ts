import { applyDecorators, ExecutionContext, Injectable, SetMetadata, UseGuards } from '@nestjs/common';
import { normalizeIp, ThrottlerGuard, ThrottlerLimitDetail, ThrottlerModuleOptions, ThrottlerOptions } from '@nestjs/throttler';
import { Principal } from '../auth/token';
import { clientAddress } from './client-address';
import { EdgeConfig, RateLimit } from './edge.config';
import { RateLimitedException, retryAfterSeconds, setRetryAfter } from './rate-limited';

/** The requests counted per organization and per client address. */
export type RateLimitedAction = 'topup' | 'redeem';
const ACTION = 'rateLimitedAction';
/** IPv6 clients get a /64 each; counting single addresses would let one host use 2^64 of them. */
const IPV6_PREFIX_BITS = 64;

/** The client's address as a rate-limit key: IPv4 as is, IPv6 by its /64. */
export function addressKey(address: string): string {
  return normalizeIp(address, IPV6_PREFIX_BITS);
}

/**
 * Counts the route's requests per organization and per client address, each against its limit
 * (@nestjs/throttler, sliding window); past either, 429 with Retry-After before the route runs,
 * so a refused request records nothing. Goes after the AuthGuard: the organization is the
 * token's, and requests that fail authentication are counted as such, not here.
 */
export const RateLimited = (action: RateLimitedAction) => applyDecorators(SetMetadata(ACTION, action), UseGuards(RateLimitGuard));

@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override async throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const seconds = retryAfterSeconds(detail.timeToBlockExpire);
    setRetryAfter(context.switchToHttp().getResponse(), seconds);
    throw new RateLimitedException(seconds, await this.getErrorMessage(context, detail));
  }
}

/** The throttlers of RateLimitGuard: one per action and key, each skipping the routes of other actions. */
export function rateLimitThrottlers(config: EdgeConfig): ThrottlerModuleOptions {
  const limits = config.rateLimits;
  const actionOf = (context: ExecutionContext): RateLimitedAction | undefined => Reflect.getMetadata(ACTION, context.getHandler());
  const throttler = (action: RateLimitedAction, key: 'org' | 'address', limit: RateLimit): ThrottlerOptions => ({
    name: `${action}-per-${key}`,
    limit: limit.limit,
    ttl: limit.windowSeconds * 1000,
    // No extra block: a key may go again as soon as its oldest request leaves the window.
    blockDuration: 0,
    skipIf: (context) => actionOf(context) !== action,
    getTracker: (req) => (key === 'org' ? `org:${(req.principal as Principal).orgId}` : `address:${addressKey(clientAddress(req as never, config.trustedProxies))}`),
  });
  return {
    throttlers: [
      throttler('topup', 'org', limits.topupsPerOrg),
      throttler('topup', 'address', limits.topupsPerAddress),
      throttler('redeem', 'org', limits.redeemsPerOrg),
      throttler('redeem', 'address', limits.redeemsPerAddress),
    ],
    // Retry-After is set on refusals only, under its standard name (the throttler would suffix it with the throttler's name).
    setHeaders: false,
    errorMessage: (context, detail) =>
      `too many ${actionOf(context) === 'redeem' ? 'voucher redemptions' : 'top-up starts'} from this ${detail.tracker.startsWith('org:') ? 'organization' : 'address'} (${detail.limit} per ${Math.round(detail.ttl / 1000)} s)`,
  };
}
