import jwt from 'jsonwebtoken';
import { TokenSettings } from '../config';
import { issueToken, verifyToken } from './token';

const settings: TokenSettings = { secret: 'unit-secret-0123456789abcdef0123456789', issuer: 'gpu-billing', audience: 'gpu-billing-portal', maxLifetimeSeconds: 3600 };
const now = Math.floor(Date.now() / 1000);
/** Signs exactly these claims: a claim set to undefined is left out, `iat` too (jsonwebtoken adds one otherwise). */
const sign = (claims: { iat?: number }) => jwt.sign(JSON.parse(JSON.stringify(claims)), settings.secret, { algorithm: 'HS256', noTimestamp: claims.iat === undefined });
const valid = { org: 'org-1', iss: settings.issuer, aud: settings.audience, iat: now, exp: now + 600 };

describe('verifyToken', () => {
  it('accepts what issueToken mints and tells when it expires', () => {
    const principal = verifyToken(issueToken(settings, { org: 'org-1', sub: 'u' }, 600), settings);
    expect(principal).toEqual({ orgId: 'org-1', subject: 'u', expiresAtMs: expect.any(Number) });
    expect(Math.abs(principal.expiresAtMs - (Date.now() + 600_000))).toBeLessThan(2000);
    expect(verifyToken(sign(valid), settings).orgId).toBe('org-1');
  });

  it.each([
    ['no iss', { ...valid, iss: undefined }, /jwt issuer invalid/],
    ['another iss', { ...valid, iss: 'someone-else' }, /jwt issuer invalid/],
    ['no aud', { ...valid, aud: undefined }, /jwt audience invalid/],
    ['another aud', { ...valid, aud: 'gpu-billing-operators' }, /jwt audience invalid/],
    ['no iat', { ...valid, iat: undefined }, /no issue time \(iat\)/],
    ['iat in the future', { ...valid, iat: now + 120, exp: now + 600 }, /issued in the future/],
    ['a lifetime over the maximum', { ...valid, iat: now - 10, exp: now - 10 + 3601 }, /lives longer than 3600 s/],
    ['no exp', { ...valid, exp: undefined }, /no expiry/],
  ])('refuses a token with %s', (_label, claims, message) => {
    expect(() => verifyToken(sign(claims), settings)).toThrow(message);
  });

  it('refuses to mint a token that would outlive the maximum', () => {
    expect(() => issueToken(settings, { org: 'org-1' }, 3601)).toThrow(/from 1 to 3600 s/);
    expect(() => issueToken(settings, { org: 'org-1' }, 0)).toThrow();
  });
});
