import { clientAddress, parseTrustedProxies } from './client-address';
import { parseCorsOrigins } from './edge.config';
import { addressKey } from './rate-limit.guard';
import { handshakeOriginAllowed } from './security-headers';

const request = (peer: string, forwardedFor?: string) => ({ socket: { remoteAddress: peer } as never, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } });

describe('client address', () => {
  it('is the connection peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const none = parseTrustedProxies(undefined);
    expect(clientAddress(request('203.0.113.7', '198.51.100.1'), none)).toBe('203.0.113.7');
    expect(clientAddress(request('::ffff:203.0.113.7'), none)).toBe('203.0.113.7');
  });

  it('walks X-Forwarded-For from the right through trusted proxies only', () => {
    const proxies = parseTrustedProxies('10.0.0.0/8, loopback');
    // The client wrote 1.1.1.1 itself; the proxy appended what it saw.
    expect(clientAddress(request('10.0.0.5', '1.1.1.1, 203.0.113.7'), proxies)).toBe('203.0.113.7');
    // Two proxies of ours in a row.
    expect(clientAddress(request('127.0.0.1', '203.0.113.7, 10.1.2.3'), proxies)).toBe('203.0.113.7');
    // An untrusted peer's header is not believed.
    expect(clientAddress(request('198.51.100.9', '203.0.113.7'), proxies)).toBe('198.51.100.9');
    // Junk behind trusted hops: the last address a trusted proxy vouched for.
    expect(clientAddress(request('10.0.0.5', 'not-an-ip, 10.0.0.6'), proxies)).toBe('10.0.0.6');
    expect(clientAddress(request('10.0.0.5'), proxies)).toBe('10.0.0.5');
  });

  it('refuses settings that would believe anyone, or are not addresses', () => {
    expect(() => parseTrustedProxies('0.0.0.0/0')).toThrow(/every address/);
    expect(() => parseTrustedProxies('::/0')).toThrow(/every address/);
    expect(() => parseTrustedProxies('true')).toThrow(/not an address/);
    expect(() => parseTrustedProxies('*')).toThrow(/not an address/);
    expect(parseTrustedProxies('::ffff:10.0.0.0/104').trusts('10.0.0.1')).toBe(true);
  });

  it('keys IPv6 clients by their /64', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe(addressKey('2001:db8:1:2:bbbb::2'));
    expect(addressKey('2001:db8:1:3::1')).not.toBe(addressKey('2001:db8:1:2::1'));
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
  });
});

describe('CORS origins', () => {
  it('takes exact origins only', () => {
    expect(parseCorsOrigins(undefined)).toEqual([]);
    expect(parseCorsOrigins('https://portal.example.com, http://localhost:5173/')).toEqual(['https://portal.example.com', 'http://localhost:5173']);
    for (const bad of ['*', 'https://*.example.com', 'https://portal.example.com/app', 'portal.example.com', 'ftp://x.example']) {
      expect(() => parseCorsOrigins(bad)).toThrow(/not an origin/);
    }
  });

  it('lets a socket handshake through without an Origin, from the same host, or from a configured origin', () => {
    const origins = ['https://portal.example.com'];
    expect(handshakeOriginAllowed({ headers: { host: 'billing.example.com' } }, origins)).toBe(true);
    expect(handshakeOriginAllowed({ headers: { host: 'billing.example.com', origin: 'https://billing.example.com' } }, origins)).toBe(true);
    expect(handshakeOriginAllowed({ headers: { host: 'billing.example.com', origin: 'https://portal.example.com' } }, origins)).toBe(true);
    expect(handshakeOriginAllowed({ headers: { host: 'billing.example.com', origin: 'https://evil.example' } }, origins)).toBe(false);
    expect(handshakeOriginAllowed({ headers: { host: 'billing.example.com', origin: 'null' } }, origins)).toBe(false);
  });
});
