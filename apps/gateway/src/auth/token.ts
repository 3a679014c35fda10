import { ORG_ID } from '@billing/contracts';
import jwt from 'jsonwebtoken';
import { TokenSettings } from '../config';

/** Who a request or a socket acts for, and until when. */
export interface Principal {
  readonly orgId: string;
  readonly subject: string | null;
  /** The token's `exp`, in milliseconds since the epoch: a socket is closed then. */
  readonly expiresAtMs: number;
}

export class AuthError extends Error {
  constructor(readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN', message: string) {
    super(message);
  }
}

/**
 * Clocks differ a little between the issuer and the gateway: a token may say it was issued up to
 * this far in the future. Expiry gets no such leeway.
 */
export const TOKEN_CLOCK_SKEW_SECONDS = 30;

/**
 * Verifies an HS256 token: the signature (any other algorithm is refused), `iss` and `aud`
 * (required, the settings' own), `exp` and `iat` (both required; not issued in the future, and
 * `exp - iat` at most the maximum lifetime, so that no signer can make a token that outlives
 * the setting), and the `org` claim naming the organization.
 */
export function verifyToken(token: unknown, settings: TokenSettings, nowMs = Date.now()): Principal {
  if (typeof token !== 'string' || token.length === 0) throw new AuthError('UNAUTHENTICATED', 'a token is required');
  let claims: jwt.JwtPayload | string;
  try {
    claims = jwt.verify(token, settings.secret, { algorithms: ['HS256'], issuer: settings.issuer, audience: settings.audience, clockTimestamp: Math.floor(nowMs / 1000) });
  } catch (error) {
    throw new AuthError('UNAUTHENTICATED', `invalid token: ${(error as Error).message}`);
  }
  if (typeof claims !== 'object' || claims === null) throw new AuthError('UNAUTHENTICATED', 'invalid token claims');
  if (typeof claims.exp !== 'number') throw new AuthError('UNAUTHENTICATED', 'the token has no expiry (exp)');
  if (typeof claims.iat !== 'number') throw new AuthError('UNAUTHENTICATED', 'the token has no issue time (iat)');
  if (claims.iat > nowMs / 1000 + TOKEN_CLOCK_SKEW_SECONDS) throw new AuthError('UNAUTHENTICATED', 'the token was issued in the future (iat)');
  if (claims.exp - claims.iat > settings.maxLifetimeSeconds) {
    throw new AuthError('UNAUTHENTICATED', `the token lives longer than ${settings.maxLifetimeSeconds} s (exp - iat)`);
  }
  if (typeof claims.org !== 'string' || !ORG_ID.test(claims.org)) throw new AuthError('UNAUTHENTICATED', 'the token names no organization (org)');
  return { orgId: claims.org, subject: typeof claims.sub === 'string' ? claims.sub : null, expiresAtMs: claims.exp * 1000 };
}

/**
 * Issues a token with every claim `verifyToken` asks for (the demo and the tests; a real
 * deployment's identity provider does this). At most the maximum lifetime, which is the default.
 */
export function issueToken(settings: TokenSettings, claims: { org: string; sub?: string }, expiresInSeconds = settings.maxLifetimeSeconds): string {
  if (!(expiresInSeconds > 0 && expiresInSeconds <= settings.maxLifetimeSeconds)) {
    throw new Error(`a token lives from 1 to ${settings.maxLifetimeSeconds} s, not ${expiresInSeconds}`);
  }
  return jwt.sign(claims, settings.secret, { algorithm: 'HS256', expiresIn: expiresInSeconds, issuer: settings.issuer, audience: settings.audience });
}
