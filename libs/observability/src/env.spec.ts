import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import { envSetting, GuardedSetting, MAX_SETTING_FILE_BYTES, reviewSettings } from './env';

const dir = mkdtempSync(path.join(tmpdir(), 'env-spec-'));
function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('envSetting', () => {
  it('reads the variable, or the file <NAME>_FILE names without its trailing line break', () => {
    expect(envSetting({ A: 'direct' }, 'A')).toBe('direct');
    expect(envSetting({ A_FILE: file('a', 's3cret value\n') }, 'A')).toBe('s3cret value');
    expect(envSetting({ A_FILE: file('crlf', 'x\r\n') }, 'A')).toBe('x');
  });

  it('counts an empty variable or file as not set', () => {
    expect(envSetting({ A: '' }, 'A')).toBeUndefined();
    expect(envSetting({ A_FILE: file('empty', '\n') }, 'A')).toBeUndefined();
    expect(envSetting({}, 'A')).toBeUndefined();
  });

  it('refuses both set, an unreadable file and an oversized one, naming the variable', () => {
    expect(() => envSetting({ A: 'x', A_FILE: file('b', 'y') }, 'A')).toThrow('A and A_FILE are both set');
    expect(() => envSetting({ A_FILE: path.join(dir, 'nope') }, 'A')).toThrow(/A_FILE '.*nope' cannot be read: ENOENT/);
    expect(() => envSetting({ A_FILE: file('big', 'x'.repeat(MAX_SETTING_FILE_BYTES + 1)) }, 'A')).toThrow(/A_FILE .* cannot be read: larger than/);
  });
});

describe('reviewSettings', () => {
  const settings: GuardedSetting[] = [
    { name: 'NATS_PASSWORD_X', orElse: 'NATS_CREDS' },
    { name: 'SECRET', devDefault: 'dev-secret', minLength: 32 },
    { name: 'URL', devDefault: 'http://localhost' },
  ];

  it('names every setting that is missing, a development default, a placeholder or too short, at once', () => {
    expect(reviewSettings({}, settings)).toEqual({
      problems: ['NATS_PASSWORD_X (or NATS_CREDS) is missing', 'SECRET is missing', 'URL is missing'],
      devDefaults: ['NATS_PASSWORD_X (or NATS_CREDS)', 'SECRET', 'URL'],
    });
    expect(reviewSettings({ NATS_PASSWORD_X: 'Change-Me-please', SECRET: 'dev-secret', URL_FILE: path.join(dir, 'nope') }, settings).problems).toEqual([
      'NATS_PASSWORD_X is a development default',
      'SECRET is a development default',
      expect.stringMatching(/^URL_FILE '.*nope' cannot be read/),
    ]);
    expect(reviewSettings({ NATS_PASSWORD_X: 'p', SECRET: 'short', URL: 'https://x' }, settings).problems).toEqual(['SECRET is shorter than 32 characters']);
  });

  it('takes the alternative instead, and passes everything set properly', () => {
    const ok = { NATS_CREDS: file('user.creds', '-----BEGIN NATS USER JWT-----'), SECRET_FILE: file('s', 'k'.repeat(32)), URL: 'https://billing.example.com' };
    expect(reviewSettings(ok, settings)).toEqual({ problems: [], devDefaults: [] });
    expect(reviewSettings({ ...ok, NATS_CREDS: undefined, NATS_PASSWORD_X: 'p' }, settings)).toEqual({ problems: [], devDefaults: [] });
  });

  it('lets an optional setting be left unset, and refuses the values production may not run with', () => {
    const modes: GuardedSetting[] = [{ name: 'PAYMENT_PROVIDERS', optional: true, refusedValues: ['offline'] }];
    expect(reviewSettings({}, modes)).toEqual({ problems: [], devDefaults: [] });
    expect(reviewSettings({ PAYMENT_PROVIDERS: 'api' }, modes)).toEqual({ problems: [], devDefaults: [] });
    expect(reviewSettings({ PAYMENT_PROVIDERS: 'offline' }, modes)).toEqual({ problems: ['PAYMENT_PROVIDERS=offline is refused in production'], devDefaults: ['PAYMENT_PROVIDERS=offline'] });
  });
});
