import { createHash, timingSafeEqual } from 'crypto';
import { envSetting } from './env';

/**
 * `GET /health` tells anyone only whether the process is up; which dependency is down, and why,
 * is for internal callers: `GET /health/details` with `Authorization: Bearer <HEALTH_DETAILS_TOKEN>`.
 * Without the setting, details are served to no one. A token, not "loopback only": a reverse
 * proxy on the same host would make every caller look like loopback.
 */
export const HEALTH_DETAILS_TOKEN = 'HEALTH_DETAILS_TOKEN';
/** As long as an HS256 key (RFC 7518 3.2): too long to guess through the failed-authentication limit. */
export const MIN_HEALTH_DETAILS_TOKEN_LENGTH = 32;

/** HEALTH_DETAILS_TOKEN (or its _FILE), checked; null when not set. */
export function healthDetailsToken(env: NodeJS.ProcessEnv): string | null {
  const token = envSetting(env, HEALTH_DETAILS_TOKEN);
  if (token === undefined) return null;
  if (token.length < MIN_HEALTH_DETAILS_TOKEN_LENGTH || /\s/.test(token)) {
    throw new Error(`${HEALTH_DETAILS_TOKEN} must be at least ${MIN_HEALTH_DETAILS_TOKEN_LENGTH} characters without spaces`);
  }
  return token;
}

/** Whether an Authorization header carries the token; compared in constant time (digests, so lengths leak nothing). */
export function bearerMatches(header: unknown, token: string | null | undefined): boolean {
  if (!token || typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(header.slice(7)), digest(token));
}
