import { ORG_ID } from '@billing/contracts';
import jwt from 'jsonwebtoken';

/** Who a request or a socket acts for. */
export interface Principal {
  readonly orgId: string;
  readonly admin: boolean;
  readonly subject: string | null;
}

export class AuthError extends Error {
  constructor(readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN', message: string) {
    super(message);
  }
}

/**
 * Verifies an HS256 token: the signature, `exp` (required: a token that never expires is
 * refused), and the `org` claim naming the organization. Any other algorithm is refused.
 */
export function verifyToken(token: unknown, secret: string): Principal {
  if (typeof token !== 'string' || token.length === 0) throw new AuthError('UNAUTHENTICATED', 'a token is required');
  let claims: jwt.JwtPayload | string;
  try {
    claims = jwt.verify(token, secret, { algorithms: ['HS256'] });
  } catch (error) {
    throw new AuthError('UNAUTHENTICATED', `invalid token: ${(error as Error).message}`);
  }
  if (typeof claims !== 'object' || claims === null) throw new AuthError('UNAUTHENTICATED', 'invalid token claims');
  if (typeof claims.exp !== 'number') throw new AuthError('UNAUTHENTICATED', 'the token has no expiry (exp)');
  if (typeof claims.org !== 'string' || !ORG_ID.test(claims.org)) throw new AuthError('UNAUTHENTICATED', 'the token names no organization (org)');
  return { orgId: claims.org, admin: claims.role === 'admin', subject: typeof claims.sub === 'string' ? claims.sub : null };
}

/** Issues a token (the demo and the tests; a real deployment's identity provider does this). */
export function issueToken(secret: string, claims: { org: string; role?: 'admin'; sub?: string }, expiresInSeconds = 3600): string {
  return jwt.sign(claims, secret, { algorithm: 'HS256', expiresIn: expiresInSeconds });
}
