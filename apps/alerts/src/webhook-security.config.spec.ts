import { randomBytes } from 'crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { keyFingerprint } from './secret-box';
import { DEVELOPMENT_SECRET_KEY, loadWebhookSecurityConfig } from './webhook-security.config';

describe('webhook security settings', () => {
  const key = randomBytes(32);
  const other = randomBytes(32);
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'alerts-keys-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses to start in production without a key, naming ALERTS_SECRET_KEY', () => {
    expect(() => loadWebhookSecurityConfig({ NODE_ENV: 'production' })).toThrow(/^ALERTS_SECRET_KEY is required with NODE_ENV=production/);
  });

  it('refuses the public development key in production', () => {
    const dev = `dev:${DEVELOPMENT_SECRET_KEY.key.toString('base64')}`;
    expect(() => loadWebhookSecurityConfig({ NODE_ENV: 'production', ALERTS_SECRET_KEYS: `${key.toString('base64')},${dev}` })).toThrow(/public development key/);
  });

  it('runs in development with the development key and says so', () => {
    const config = loadWebhookSecurityConfig({});
    expect(config).toMatchObject({ production: false, activeSecretKeyId: 'dev', secretKeys: [DEVELOPMENT_SECRET_KEY], allowCidrs: [], allowHosts: [] });
    expect(config.warnings.join('\n')).toMatch(/ALERTS_SECRET_KEY is not set/);
  });

  it('takes one key from ALERTS_SECRET_KEY or its file, with its fingerprint as id', () => {
    const direct = loadWebhookSecurityConfig({ NODE_ENV: 'production', ALERTS_SECRET_KEY: key.toString('base64') });
    expect(direct).toMatchObject({ production: true, activeSecretKeyId: keyFingerprint(key), warnings: [] });
    const file = join(dir, 'key');
    writeFileSync(file, `${key.toString('base64')}\n`);
    expect(loadWebhookSecurityConfig({ NODE_ENV: 'production', ALERTS_SECRET_KEY_FILE: file }).secretKeys).toEqual(direct.secretKeys);
    expect(() => loadWebhookSecurityConfig({ ALERTS_SECRET_KEY: key.toString('base64'), ALERTS_SECRET_KEY_FILE: file })).toThrow(/both set/);
    expect(() => loadWebhookSecurityConfig({ ALERTS_SECRET_KEY_FILE: join(dir, 'missing') })).toThrow(/ALERTS_SECRET_KEY_FILE '.*missing' cannot be read: ENOENT/);
  });

  it('takes several keys from ALERTS_SECRET_KEYS: the first seals unless ALERTS_SECRET_KEY_ID names another', () => {
    const keys = `new:${key.toString('base64')}, old:${other.toString('hex')}`;
    expect(loadWebhookSecurityConfig({ ALERTS_SECRET_KEYS: keys })).toMatchObject({ activeSecretKeyId: 'new', secretKeys: [{ id: 'new', key }, { id: 'old', key: other }] });
    expect(loadWebhookSecurityConfig({ ALERTS_SECRET_KEYS: keys, ALERTS_SECRET_KEY_ID: 'old' }).activeSecretKeyId).toBe('old');
    expect(() => loadWebhookSecurityConfig({ ALERTS_SECRET_KEYS: keys, ALERTS_SECRET_KEY_ID: 'gone' })).toThrow(/ALERTS_SECRET_KEY_ID 'gone'/);
    expect(() => loadWebhookSecurityConfig({ ALERTS_SECRET_KEYS: `a:${key.toString('base64')},a:${other.toString('base64')}` })).toThrow(/'a' appears twice/);
    expect(() => loadWebhookSecurityConfig({ ALERTS_SECRET_KEYS: keys, ALERTS_SECRET_KEY: key.toString('base64') })).toThrow(/both set/);
    expect(() => loadWebhookSecurityConfig({ ALERTS_SECRET_KEYS: 'a:short' })).toThrow(/^ALERTS_SECRET_KEYS: a key must be 32 bytes/);
  });

  it('reads the allow-lists and warns that they are in effect', () => {
    const config = loadWebhookSecurityConfig({ ALERTS_WEBHOOK_ALLOW_CIDRS: '127.0.0.1/32, 10.20.0.0/16', ALERTS_WEBHOOK_ALLOW_HOSTS: 'hooks.corp.internal' });
    expect(config).toMatchObject({ allowCidrs: ['127.0.0.1/32', '10.20.0.0/16'], allowHosts: ['hooks.corp.internal'] });
    expect(config.warnings.join('\n')).toMatch(/127\.0\.0\.1\/32, 10\.20\.0\.0\/16, hooks\.corp\.internal/);
    expect(() => loadWebhookSecurityConfig({ ALERTS_WEBHOOK_ALLOW_CIDRS: '10.0.0.0/40' })).toThrow(/^ALERTS_WEBHOOK_ALLOW_CIDRS: '10.0.0.0\/40'/);
    expect(() => loadWebhookSecurityConfig({ ALERTS_WEBHOOK_ALLOW_HOSTS: '10.0.0.1' })).toThrow(/^ALERTS_WEBHOOK_ALLOW_HOSTS:/);
  });
});
