import jwt from 'jsonwebtoken';
import { issueOperatorToken, verifyOperatorToken } from './operator-token';
import { loadOperatorSettings } from './operator.config';

const settings = { secret: 'operator-secret-0123456789abcdef', issuer: 'gpu-billing', audience: 'gpu-billing-operator', maxLifetimeSeconds: 900 };
const organizations = { secret: 'org-secret-0123456789abcdef', issuer: 'gpu-billing', audience: 'gpu-billing-portal' };

describe('operator tokens', () => {
  it('verifies one it issued, naming its operator', () => {
    const now = Date.now();
    expect(verifyOperatorToken(issueOperatorToken(settings, 'alice@example.com'), settings, now)).toMatchObject({ operator: 'alice@example.com' });
  });

  it('refuses an organization token, whatever it claims, and anything not quite an operator token', () => {
    const now = Math.floor(Date.now() / 1000);
    const op = { issuer: settings.issuer, audience: settings.audience };
    const refused = [
      jwt.sign({ org: 'org-1', role: 'admin', sub: 'alice' }, organizations.secret, { issuer: organizations.issuer, audience: organizations.audience, expiresIn: 600 }),
      jwt.sign({ sub: 'alice' }, organizations.secret, { ...op, expiresIn: 600 }),
      jwt.sign({ sub: 'alice' }, settings.secret, { issuer: organizations.issuer, audience: organizations.audience, expiresIn: 600 }),
      jwt.sign({ sub: 'alice', org: 'org-1' }, settings.secret, { ...op, expiresIn: 600 }),
      jwt.sign({}, settings.secret, { ...op, expiresIn: 600 }),
      jwt.sign({ sub: 'two words' }, settings.secret, { ...op, expiresIn: 600 }),
      jwt.sign({ sub: 'alice' }, settings.secret, { ...op, expiresIn: 901 }),
      jwt.sign({ sub: 'alice' }, settings.secret, op),
      jwt.sign({ sub: 'alice', iat: now - 100, exp: now - 10 }, settings.secret, op),
      jwt.sign({ sub: 'alice', iat: now + 120, exp: now + 300 }, settings.secret, op),
      jwt.sign({ sub: 'alice' }, settings.secret, { ...op, expiresIn: 600, algorithm: 'HS512' }),
      undefined,
      '',
    ];
    for (const token of refused) expect(() => verifyOperatorToken(token, settings)).toThrow();
  });

  it('issues only for a proper name and lifetime', () => {
    expect(() => issueOperatorToken(settings, 'a b')).toThrow();
    expect(() => issueOperatorToken(settings, 'alice', 901)).toThrow();
  });
});

describe('operator settings', () => {
  const env = { OPERATOR_JWT_SECRET: 'operator-secret-0123456789abcdef' };

  it('default to their own audience and a 15-minute lifetime', () => {
    expect(loadOperatorSettings(env, organizations).tokens).toEqual({ ...settings, maxLifetimeSeconds: 900 });
  });

  it('refuse the organizations secret or audience, and a short secret', () => {
    expect(() => loadOperatorSettings({ OPERATOR_JWT_SECRET: organizations.secret }, organizations)).toThrow(/must differ from JWT_SECRET/);
    expect(() => loadOperatorSettings({ ...env, OPERATOR_JWT_AUDIENCE: organizations.audience }, organizations)).toThrow(/must differ from JWT_AUDIENCE/);
    expect(() => loadOperatorSettings({ OPERATOR_JWT_SECRET: 'short' }, organizations)).toThrow(/at least 16/);
    expect(() => loadOperatorSettings({ ...env, OPERATOR_JWT_MAX_LIFETIME_SECONDS: '7200' }, organizations)).toThrow(/OPERATOR_JWT_MAX_LIFETIME_SECONDS/);
  });

  it('connect to NATS as operator with its own password or creds, never the gateway user\'s creds', () => {
    expect(loadOperatorSettings({ ...env, NATS_PASSWORD_OPERATOR: 'pw' }, organizations).nats).toMatchObject({ role: 'operator', method: 'password', user: 'operator' });
    expect(loadOperatorSettings({ ...env, NATS_CREDS: __filename }, organizations).nats).toMatchObject({ role: 'operator', method: 'none' });
    expect(loadOperatorSettings({ ...env, OPERATOR_NATS_CREDS: __filename }, organizations).nats).toMatchObject({ role: 'operator', method: 'creds', credsFile: __filename });
  });
});
