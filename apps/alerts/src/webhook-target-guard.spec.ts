import { LookupAddress } from 'dns';
import { createServer, Server } from 'http';
import { AddressInfo } from 'net';
import { WebhookTargetRefused } from './alerts-error-codes';
import { WebhookAddressPolicy } from './webhook-address-policy';
import { guardedPoster } from './webhook-poster';
import { WebhookResolveFailed, WebhookResolver, WebhookTargetGuard } from './webhook-target-guard';

/** A resolver the test controls: each name answers its list, or the next of its lists on each call. */
function fakeDns(table: Record<string, string[] | string[][]>): { resolve: WebhookResolver; calls: string[] } {
  const calls: string[] = [];
  const served = new Map<string, number>();
  const resolve: WebhookResolver = async (host) => {
    calls.push(host);
    const entry = table[host];
    if (!entry) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    const n = served.get(host) ?? 0;
    served.set(host, n + 1);
    const list = Array.isArray(entry[0]) ? (entry as string[][])[Math.min(n, entry.length - 1)] : (entry as string[]);
    return list.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { resolve, calls };
}

const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    if (e instanceof WebhookTargetRefused) return e.code;
    if (e instanceof WebhookResolveFailed) return 'RESOLVE_FAILED';
    return `unexpected: ${e}`;
  }
  return 'accepted';
};

describe('webhook target guard: registration', () => {
  const dns = fakeDns({
    'hooks.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    'private.example.com': ['10.0.0.7'],
    'mixed.example.com': ['93.184.216.34', '127.0.0.1'],
    'metadata.example.com': ['169.254.169.254'],
    'mapped.example.com': ['::ffff:10.0.0.1'],
    'hooks.corp.internal': ['10.1.2.3'],
    'sneaky.corp.internal': ['169.254.169.254'],
  });
  const guard = new WebhookTargetGuard({ httpsOnly: false, policy: new WebhookAddressPolicy({ allowHosts: ['*.corp.internal'] }), resolve: dns.resolve });

  it('accepts a host whose every address is public', async () => {
    expect(await refusal(guard.checkRegistration('https://hooks.example.com/billing', 'url'))).toBe('accepted');
    expect(await refusal(guard.checkRegistration('http://93.184.216.34:8080/x', 'url'))).toBe('accepted');
  });

  it.each([
    'http://127.0.0.1/hook',
    'http://127.0.0.1:3003/metrics',
    'http://10.1.2.3/hook',
    'http://172.16.0.1/',
    'http://192.168.0.1/',
    'http://169.254.169.254/latest/meta-data/iam/',
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://[::ffff:a9fe:a9fe]/',
    'http://[fd00:ec2::254]/',
    'http://[fe80::1]/',
    'http://100.64.0.1/',
    'http://0.0.0.0:5432/',
    'http://2130706433/', // 127.0.0.1 as one number: the URL parser makes it 127.0.0.1
    'http://0x7f.1/',
    'http://localhost:4222/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://kubernetes/',
    'http://private.example.com/',
    'http://mixed.example.com/',
    'http://metadata.example.com/',
    'http://mapped.example.com/',
    'https://sneaky.corp.internal/',
  ])('refuses %s as WEBHOOK_TARGET_FORBIDDEN', async (url) => {
    expect(await refusal(guard.checkRegistration(new URL(url).href, 'url'))).toBe('WEBHOOK_TARGET_FORBIDDEN');
  });

  it('says which class of address it refused, not what our resolver saw', async () => {
    await expect(guard.checkRegistration('http://private.example.com/', 'endpoints[0].url')).rejects.toThrow("'endpoints[0].url': 'private.example.com' resolves to a private address; webhooks go to public addresses only");
    await expect(guard.checkRegistration('http://169.254.169.254/', 'url')).rejects.toThrow('169.254.169.254 is a cloud metadata address');
  });

  it('accepts a host the operator listed, whatever it resolves to, cloud metadata excepted', async () => {
    expect(await refusal(guard.checkRegistration('https://hooks.corp.internal/', 'url'))).toBe('accepted');
  });

  it('tells a host that does not resolve from a resolver that fails', async () => {
    expect(await refusal(guard.checkRegistration('https://nowhere.example.com/', 'url'))).toBe('WEBHOOK_HOST_NOT_FOUND');
    const failing = new WebhookTargetGuard({ httpsOnly: false, policy: new WebhookAddressPolicy(), resolve: async () => Promise.reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })) });
    expect(await refusal(failing.checkRegistration('https://hooks.example.com/', 'url'))).toBe('RESOLVE_FAILED');
    const slow = new WebhookTargetGuard({ httpsOnly: false, policy: new WebhookAddressPolicy(), resolve: () => new Promise(() => undefined), resolveTimeoutMs: 20 });
    expect(await refusal(slow.checkRegistration('https://hooks.example.com/', 'url'))).toBe('RESOLVE_FAILED');
  });

  it('wants https in production', async () => {
    const production = new WebhookTargetGuard({ httpsOnly: true, policy: new WebhookAddressPolicy(), resolve: dns.resolve });
    expect(await refusal(production.checkRegistration('http://hooks.example.com/', 'url'))).toBe('WEBHOOK_HTTPS_REQUIRED');
    expect(await refusal(production.checkRegistration('https://hooks.example.com/', 'url'))).toBe('accepted');
  });
});

describe('webhook target guard: delivery', () => {
  /** Local receivers: 127.0.0.1 is allowed in these tests, 127.0.0.2 plays an internal service. */
  let allowed: Server;
  let internal: Server;
  let allowedHits: string[];
  let internalHits: string[];
  let port: number;

  const listen = (host: string, hits: () => string[], respond: (url: string) => [number, Record<string, string>]) =>
    new Promise<Server>((resolve) => {
      const server = createServer((req, res) => {
        hits().push(req.url ?? '');
        req.resume();
        const [status, headers] = respond(req.url ?? '');
        res.writeHead(status, headers).end();
      });
      // Both on one port, so a URL's port reaches either: only the address decides.
      server.listen(port, host, () => resolve(server));
    });

  beforeAll(async () => {
    allowedHits = [];
    internalHits = [];
    port = 0;
    allowed = await listen('127.0.0.1', () => allowedHits, (url) => (url === '/redirect' ? [302, { location: `http://127.0.0.2:${port}/stolen` }] : [204, {}]));
    port = (allowed.address() as AddressInfo).port;
    internal = await listen('127.0.0.2', () => internalHits, () => [204, {}]);
  });
  afterAll(async () => {
    await new Promise((r) => allowed.close(r));
    await new Promise((r) => internal.close(r));
  });

  const setup = (table: Record<string, string[] | string[][]>, httpsOnly = false) => {
    const dns = fakeDns(table);
    const guard = new WebhookTargetGuard({ httpsOnly, policy: new WebhookAddressPolicy({ allowCidrs: ['127.0.0.1/32'] }), resolve: dns.resolve });
    return { dns, guard, poster: guardedPoster(guard) };
  };
  const body = Buffer.from('{"eventId":"e"}');

  it('connects to the address its own resolver gave and checked (a name the system cannot resolve)', async () => {
    const { poster, dns } = setup({ 'hooks.example.test': ['127.0.0.1'] });
    expect(await poster.post(`http://hooks.example.test:${port}/ok`, body, {}, 2000)).toEqual({ ok: true });
    expect(dns.calls).toEqual(['hooks.example.test']);
    expect(allowedHits).toContain('/ok');
    poster.close();
  });

  it('does not connect when the name resolves to a refused address at delivery time (DNS rebinding)', async () => {
    const { guard, poster } = setup({ 'rebind.example.test': [['93.184.216.34'], ['127.0.0.2']] });
    await guard.checkRegistration(`http://rebind.example.test:${port}/hook`, 'url'); // public when registered
    const result = await poster.post(`http://rebind.example.test:${port}/hook`, body, {}, 2000);
    expect(result).toEqual({ ok: false, error: "refused: 'rebind.example.test' resolves to 127.0.0.2, a loopback address; webhooks go to public addresses only" });
    expect(internalHits).toEqual([]);
    poster.close();
  });

  it('refuses a name with any refused address, even if an allowed one comes first', async () => {
    const { poster } = setup({ 'mixed.example.test': ['127.0.0.1', '127.0.0.2'] });
    expect((await poster.post(`http://mixed.example.test:${port}/hook`, body, {}, 2000)).error).toMatch(/^refused: .* 127\.0\.0\.2, a loopback address/);
    expect(internalHits).toEqual([]);
    poster.close();
  });

  it('checks an IP literal before connecting, and an internal name without asking the resolver', async () => {
    const { poster, dns } = setup({});
    expect((await poster.post(`http://127.0.0.2:${port}/hook`, body, {}, 2000)).error).toMatch(/^refused: .*127\.0\.0\.2 is a loopback address/);
    expect((await poster.post(`http://localhost:${port}/hook`, body, {}, 2000)).error).toMatch(/^refused: .*'localhost' is not a fully qualified domain name/);
    expect((await poster.post(`http://127.0.0.1:${port}/literal`, body, {}, 2000)).ok).toBe(true);
    expect(dns.calls).toEqual([]);
    expect(internalHits).toEqual([]);
    poster.close();
  });

  it('does not follow a redirect, even to an address it would refuse', async () => {
    const { poster } = setup({});
    expect(await poster.post(`http://127.0.0.1:${port}/redirect`, body, {}, 2000)).toEqual({ ok: false, error: 'HTTP 302 Found (redirects are not followed)' });
    expect(internalHits).toEqual([]);
    poster.close();
  });

  it('refuses an http URL at delivery in production (one stored before the rule)', async () => {
    const { poster } = setup({ 'hooks.example.test': ['127.0.0.1'] }, true);
    expect((await poster.post(`http://hooks.example.test:${port}/old`, body, {}, 2000)).error).toMatch(/^refused: .*must be an https URL in production/);
    expect(allowedHits).not.toContain('/old');
    poster.close();
  });
});
