import { Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { AuthFailureGuard, AuthFailureLimiter } from './auth-failures';
import { EdgeConfig } from './edge.config';
import { HttpErrorFilter } from './http-errors';
import { rateLimitThrottlers } from './rate-limit.guard';

/**
 * The throttler's counters live in this process's memory: several gateway processes each count
 * on their own (a client spread over N of them gets up to N times the limits). See README, "Edges".
 */
export function edgeImports(config: EdgeConfig) {
  return [ThrottlerModule.forRoot(rateLimitThrottlers(config))];
}

export const EDGE_PROVIDERS: Provider[] = [
  AuthFailureLimiter,
  { provide: APP_GUARD, useClass: AuthFailureGuard },
  // The one exception filter: one error body everywhere, 401s counted as failed authentications.
  { provide: APP_FILTER, useClass: HttpErrorFilter },
];
