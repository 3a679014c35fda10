import { bearerMatches, healthDetailsToken } from './health-details';

describe('health details token', () => {
  const token = 'h'.repeat(32);

  it('is off unless set, and refused when short or spaced', () => {
    expect(healthDetailsToken({})).toBeNull();
    expect(healthDetailsToken({ HEALTH_DETAILS_TOKEN: token })).toBe(token);
    expect(() => healthDetailsToken({ HEALTH_DETAILS_TOKEN: 'short' })).toThrow(/at least 32/);
    expect(() => healthDetailsToken({ HEALTH_DETAILS_TOKEN: `${token} x` })).toThrow(/without spaces/);
  });

  it('matches only its own bearer, and nothing when off', () => {
    expect(bearerMatches(`Bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`Bearer ${token}x`, token)).toBe(false);
    expect(bearerMatches(token, token)).toBe(false);
    expect(bearerMatches(undefined, token)).toBe(false);
    expect(bearerMatches('Bearer ', null)).toBe(false);
    expect(bearerMatches(`Bearer ${token}`, null)).toBe(false);
  });
});
