import { OPERATOR_ID } from '@billing/contracts';
import jwt from 'jsonwebtoken';

/** What an operator token must carry and may last (README, "Operators and the audit"). */
export interface OperatorTokenSettings {
  /** HS256 secret of operator tokens (`OPERATOR_JWT_SECRET`): never the organizations' `JWT_SECRET`. */
  readonly secret: string;
  readonly issuer: string;
  /** `OPERATOR_JWT_AUDIENCE`: never the organizations' audience. */
  readonly audience: string;
  readonly maxLifetimeSeconds: number;
}

/** Who an operator request acts as, and until when. */
export interface OperatorPrincipal {
  /** The token's `sub`: the name every audit row of its actions carries. */
  readonly operator: string;
  readonly expiresAtMs: number;
}

export class OperatorAuthError extends Error {}

/** As for organization tokens: an issuer's clock may run this far ahead. */
export const OPERATOR_TOKEN_CLOCK_SKEW_SECONDS = 30;

/**
 * Verifies an operator token: HS256 with the operators' own secret (any other algorithm is
 * refused), `iss` and the operators' `aud`, `iat` and `exp` (a lifetime of at most the setting),
 * `sub` naming the operator, and no `org`: an operator acts on organizations, it is none of them.
 * An organization's token fails here whatever it claims: it is signed with another secret.
 */
export function verifyOperatorToken(token: unknown, settings: OperatorTokenSettings, nowMs = Date.now()): OperatorPrincipal {
  if (typeof token !== 'string' || token.length === 0) throw new OperatorAuthError('an operator token is required');
  let claims: jwt.JwtPayload | string;
  try {
    claims = jwt.verify(token, settings.secret, { algorithms: ['HS256'], issuer: settings.issuer, audience: settings.audience, clockTimestamp: Math.floor(nowMs / 1000) });
  } catch (error) {
    throw new OperatorAuthError(`invalid operator token: ${(error as Error).message}`);
  }
  if (typeof claims !== 'object' || claims === null) throw new OperatorAuthError('invalid operator token claims');
  if (typeof claims.exp !== 'number') throw new OperatorAuthError('the operator token has no expiry (exp)');
  if (typeof claims.iat !== 'number') throw new OperatorAuthError('the operator token has no issue time (iat)');
  if (claims.iat > nowMs / 1000 + OPERATOR_TOKEN_CLOCK_SKEW_SECONDS) throw new OperatorAuthError('the operator token was issued in the future (iat)');
  if (claims.exp - claims.iat > settings.maxLifetimeSeconds) throw new OperatorAuthError(`the operator token lives longer than ${settings.maxLifetimeSeconds} s (exp - iat)`);
  if (claims.org !== undefined) throw new OperatorAuthError('an operator token names no organization (org)');
  if (typeof claims.sub !== 'string' || !OPERATOR_ID.test(claims.sub)) throw new OperatorAuthError('the operator token must name its operator (sub: 1-128 letters, digits, _ . @ + : or -)');
  return { operator: claims.sub, expiresAtMs: claims.exp * 1000 };
}

/**
 * Issues an operator token (development and the tests: `npm run operator-token`; a deployment's
 * operators get theirs from its identity provider). At most the maximum lifetime, the default.
 */
export function issueOperatorToken(settings: OperatorTokenSettings, operator: string, expiresInSeconds = settings.maxLifetimeSeconds): string {
  if (!OPERATOR_ID.test(operator)) throw new Error(`'${operator}' is not an operator name (1-128 letters, digits, _ . @ + : or -)`);
  if (!(expiresInSeconds > 0 && expiresInSeconds <= settings.maxLifetimeSeconds)) {
    throw new Error(`an operator token lives from 1 to ${settings.maxLifetimeSeconds} s, not ${expiresInSeconds}`);
  }
  return jwt.sign({}, settings.secret, { algorithm: 'HS256', subject: operator, expiresIn: expiresInSeconds, issuer: settings.issuer, audience: settings.audience });
}
