import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import { Logger } from '@nestjs/common';
import { missingNatsCredentials, natsAuth, natsConnectionOptions, natsCredentialSetting, natsPasswordVariable } from './nats-auth';
import { connectNats } from './nats-connection';

const dir = mkdtempSync(path.join(tmpdir(), 'nats-auth-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('natsAuth', () => {
  it('names one password variable per role, the one the server config reads', () => {
    expect(natsPasswordVariable('billing')).toBe('NATS_PASSWORD_BILLING');
    expect(natsPasswordVariable('control-plane')).toBe('NATS_PASSWORD_CONTROL_PLANE');
    expect(natsCredentialSetting('operator')).toEqual({ name: 'NATS_PASSWORD_OPERATOR', orElse: 'NATS_CREDS' });
  });

  it('connects as the role with its password, from the variable or from a file', () => {
    expect(natsAuth('gateway', { NATS_PASSWORD_GATEWAY: 'pw1' })).toMatchObject({ method: 'password', user: 'gateway', password: 'pw1' });
    expect(natsAuth('gateway', { NATS_PASSWORD_GATEWAY_FILE: file('gw', 'pw2\n') })).toMatchObject({ method: 'password', user: 'gateway', password: 'pw2' });
    expect(natsConnectionOptions(natsAuth('alerts', { NATS_PASSWORD_ALERTS: 'pw3' }))).toEqual({ user: 'alerts', pass: 'pw3' });
  });

  it('takes a creds file instead of the password, and TLS files for TLS and mutual TLS', () => {
    const creds = file('user.creds', 'creds');
    const auth = natsAuth('billing', { NATS_CREDS: creds, NATS_TLS_CA: file('ca.pem', 'x'), NATS_TLS_CERT: file('c.pem', 'x'), NATS_TLS_KEY: file('k.pem', 'x') });
    expect(auth).toMatchObject({ method: 'creds', credsFile: creds, tls: { caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, 'c.pem'), keyFile: path.join(dir, 'k.pem') } });
    const options = natsConnectionOptions(auth);
    expect(options.authenticator).toBeInstanceOf(Function);
    expect(options.tls).toEqual({ caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, 'c.pem'), keyFile: path.join(dir, 'k.pem') });
  });

  it('refuses settings that cannot work, naming the variable', () => {
    expect(() => natsAuth('billing', { NATS_PASSWORD_BILLING: 'a', NATS_PASSWORD_BILLING_FILE: file('b', 'b') })).toThrow(/NATS_PASSWORD_BILLING and NATS_PASSWORD_BILLING_FILE/);
    expect(() => natsAuth('billing', { NATS_PASSWORD_BILLING_FILE: path.join(dir, 'missing') })).toThrow(/NATS_PASSWORD_BILLING_FILE .* cannot be read: ENOENT/);
    expect(() => natsAuth('billing', { NATS_PASSWORD_BILLING: 'a', NATS_CREDS: file('u.creds', 'x') })).toThrow(/NATS_PASSWORD_BILLING and NATS_CREDS are both set/);
    expect(() => natsAuth('billing', { NATS_CREDS: path.join(dir, 'none.creds') })).toThrow(/NATS_CREDS .* does not exist/);
    expect(() => natsAuth('billing', { NATS_PASSWORD_BILLING: 'a', NATS_TLS_CERT: file('c2.pem', 'x') })).toThrow(/NATS_TLS_CERT and NATS_TLS_KEY go together/);
    expect(() => natsAuth('billing', { NATS_PASSWORD_BILLING: 'a', NATS_TLS_CA: path.join(dir, 'no-ca.pem') })).toThrow(/NATS_TLS_CA .* does not exist/);
  });

  it('refuses to connect without credentials in production, naming the variable; development connects with a warning', () => {
    expect(() => natsAuth('control-plane', { NODE_ENV: 'production' })).toThrow(/set NATS_PASSWORD_CONTROL_PLANE \(or NATS_CREDS/);
    expect(natsAuth('control-plane', { NODE_ENV: 'production', NATS_PASSWORD_CONTROL_PLANE: 'pw' }).method).toBe('password');
    const dev = natsAuth('billing', {});
    expect(dev.method).toBe('none');
    expect(dev.warning).toMatch(/NATS_PASSWORD_BILLING is not set/);
    expect(natsConnectionOptions(dev)).toEqual({});
    expect(missingNatsCredentials('billing', {})).toEqual(['NATS_PASSWORD_BILLING (or NATS_CREDS)']);
    expect(missingNatsCredentials('billing', { NATS_PASSWORD_BILLING_FILE: '/x' })).toEqual([]);
  });

  it('warns once per process about connecting without credentials, however many connections it opens', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const dev = natsAuth('billing', {});
      // Nobody listens on port 1: each connection fails, after the warning.
      await expect(connectNats('nats://127.0.0.1:1', 'a', dev)).rejects.toThrow();
      await expect(connectNats('nats://127.0.0.1:1', 'b', dev)).rejects.toThrow();
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toMatchObject({ role: 'billing', msg: expect.stringContaining('NATS_PASSWORD_BILLING') });
    } finally {
      warn.mockRestore();
    }
  });
});
