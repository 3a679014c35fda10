import { AddressInfo } from 'net';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './support/chromium';
import { io } from 'socket.io-client';
import { startEngine, TEST_HEALTH_DETAILS_TOKEN, testDatabaseUrl, TestEngine, WalletClient } from './support/engine';
import { startGateway, TestGateway } from './support/gateway';
import { eventually } from './support/lifecycle';
import { TcpProxy } from './support/servers';

/** Debian's Chromium, as .ci/run installs it; no browser download. */
const PORTAL = 'https://portal.e2e.example';
const EVIL = 'https://evil.e2e.example';

/**
 * The gateway's edges, against the real gateway and engine and in real Chromium: CORS for the
 * configured origins only (HTTP and socket.io), helmet's headers with a CSP the dashboard and
 * /docs live under, and /health that tells the public only up or down.
 */
describe('edges: CORS, security headers, CSP, health', () => {
  let engine: TestEngine;
  let gateway: TestGateway;
  let plain: TestGateway;
  let client: WalletClient;
  let browser: Browser;

  beforeAll(async () => {
    engine = await startEngine();
    gateway = await startGateway(engine.config.subjectPrefix, { CORS_ORIGINS: PORTAL });
    plain = await startGateway(engine.config.subjectPrefix);
    client = await WalletClient.connect(engine.config.subjectPrefix);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await plain?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
  });

  const cors = (res: Response) => ({ origin: res.headers.get('access-control-allow-origin'), credentials: res.headers.get('access-control-allow-credentials') });

  it('grants CORS on the HTTP API to the configured origins only, never with credentials', async () => {
    const preflight = (origin: string, on = gateway) =>
      fetch(`${on.url}/api/v1/wallet`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
    const granted = await preflight(PORTAL);
    expect(granted.status).toBe(204);
    expect(cors(granted)).toEqual({ origin: PORTAL, credentials: null });
    expect(granted.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(cors(await preflight(EVIL))).toEqual({ origin: null, credentials: null });
    // The answer itself: the browser may read it from the portal only.
    const get = (origin: string, on = gateway) => fetch(`${on.url}/api/v1/wallet`, { headers: { origin, authorization: `Bearer ${on.token('edge-cors')}` } });
    expect(cors(await get(PORTAL))).toEqual({ origin: PORTAL, credentials: null });
    expect(cors(await get(EVIL))).toEqual({ origin: null, credentials: null });
    // Without CORS_ORIGINS no origin is granted anything.
    expect(cors(await preflight(PORTAL, plain))).toEqual({ origin: null, credentials: null });
    expect(cors(await get(PORTAL, plain))).toEqual({ origin: null, credentials: null });
  });

  it('grants socket.io CORS and handshakes to the configured origins and the gateway itself only', async () => {
    const polling = (origin: string, on = gateway) => fetch(`${on.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });
    const portal = await polling(PORTAL);
    expect(portal.status).toBe(200);
    expect(cors(portal)).toEqual({ origin: PORTAL, credentials: null });
    const evil = await polling(EVIL);
    expect(evil.status).toBe(403);
    expect(cors(evil).origin).toBeNull();
    expect((await polling(PORTAL, plain)).status).toBe(403);
    // WebSocket connections, which browsers do not hold to CORS: the Origin is checked at the handshake.
    const connect = (origin: string | undefined, on = gateway) =>
      new Promise<string>((resolve) => {
        const socket = io(on.url, { auth: { token: on.token('edge-cors') }, transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: origin ? { origin } : {} });
        socket.once('connect', () => (socket.close(), resolve('connected')));
        socket.once('connect_error', (e) => (socket.close(), resolve(`refused: ${e.message}`)));
      });
    expect(await connect(EVIL)).toMatch(/^refused/);
    expect(await connect(PORTAL)).toBe('connected');
    expect(await connect(gateway.url)).toBe('connected');
    expect(await connect(undefined)).toBe('connected');
    expect(await connect(PORTAL, plain)).toMatch(/^refused/);
    expect(await connect(plain.url, plain)).toBe('connected');
  });

  it("sends helmet's security headers on the dashboard, the API and /docs", async () => {
    for (const path of ['/', '/build/portal.js', '/api/v1/wallet', '/docs', '/health']) {
      const res = await fetch(`${gateway.url}${path}`);
      const h = (name: string) => res.headers.get(name);
      expect({ path, csp: h('content-security-policy') }).toEqual({ path, csp: expect.stringContaining("script-src 'self'") });
      expect(h('content-security-policy')).toContain("object-src 'none'");
      expect(h('content-security-policy')).toContain("frame-ancestors 'self'");
      expect(h('content-security-policy')).not.toContain('unsafe-eval');
      expect(h('content-security-policy')).toContain('upgrade-insecure-requests');
      expect(h('x-content-type-options')).toBe('nosniff');
      expect(h('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(h('x-frame-options')).toBe('SAMEORIGIN');
      expect(h('referrer-policy')).toBe('no-referrer');
      expect(h('cross-origin-opener-policy')).toBe('same-origin');
      expect(h('x-powered-by')).toBeNull();
    }
  });

  /** A page that records every Content-Security-Policy violation from its first moment. */
  async function watchedPage(context: BrowserContext): Promise<{ page: Page; violations: () => Promise<string[]> }> {
    await context.addInitScript(`window.__cspViolations = []; document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));`);
    const page = await context.newPage();
    const console: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) console.push(m.text());
    });
    return { page, violations: async () => [...((await page.evaluate('window.__cspViolations')) as string[]), ...console] };
  }

  it('runs the dashboard under the CSP in Chromium: the balance shows and moves live, nothing is refused', async () => {
    const org = 'edge-dash';
    await client.request(org, 'topup', { idempotencyKey: 't', amount: '12.34', currency: 'USD', provider: 'stripe', reference: 'pi_edge_dash' });
    const context = await browser.newContext();
    const { page, violations } = await watchedPage(context);
    const response = await page.goto(`${gateway.url}/#token=${gateway.token(org)}`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await eventually(() => page.getByTestId('total').textContent(), (t) => t === '$12.34', 15_000);
    expect(await page.locator('#status').textContent()).toBe('connected');
    // The live push over the socket, under connect-src 'self'.
    await client.request(org, 'topup', { idempotencyKey: 't2', amount: '1.00', currency: 'USD', provider: 'stripe', reference: 'pi_edge_dash_2' });
    await eventually(() => page.getByTestId('total').textContent(), (t) => t === '$13.34', 15_000);
    // Another page of the portal, with its HTTP calls, under the same policy.
    await page.getByTestId('nav-resources').click();
    await eventually(() => page.getByTestId('resources-running').textContent(), (t) => (t ?? '').includes('None running.'), 15_000);
    expect(await violations()).toEqual([]);
    await context.close();
  });

  it('renders /docs in Chromium under the CSP', async () => {
    const context = await browser.newContext();
    const { page, violations } = await watchedPage(context);
    await page.goto(`${gateway.url}/docs`);
    await page.locator('.opblock-summary-path').first().waitFor({ timeout: 15_000 });
    const paths = await page.locator('.opblock-summary-path').allTextContents();
    expect(paths.map((p) => p.replace(/\u200b/g, ''))).toEqual(expect.arrayContaining(['/api/v1/wallet', '/api/v1/topups']));
    expect(await page.locator('.info .title').textContent()).toMatch(/GPU billing engine/);
    expect(await violations()).toEqual([]);
    // The watch sees what the policy refuses: an inline script, as an injected one would be.
    await page.addScriptTag({ content: 'window.__inlineRan = true' }).catch(() => undefined);
    expect(await page.evaluate('window.__inlineRan === true')).toBe(false);
    expect((await violations()).join('\n')).toMatch(/script-src/);
    await context.close();
  });

  describe('health', () => {
    const details = (url: string, token?: string) => fetch(`${url}/health/details`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const engineUrl = () => `http://127.0.0.1:${(engine.app.getHttpServer().address() as AddressInfo).port}`;

    it('tells the public only up, on the gateway and the engine; the details to the HEALTH_DETAILS_TOKEN bearer', async () => {
      for (const url of [gateway.url, engineUrl()]) {
        const health = await fetch(`${url}/health`);
        expect({ url, status: health.status, body: await health.json() }).toEqual({ url, status: 200, body: { status: 'up' } });
        expect(health.headers.get('cache-control')).toMatch(/no-store/);
        expect((await details(url)).status).toBe(401);
        expect((await details(url, 'x'.repeat(40))).status).toBe(401);
        const inside = await details(url, TEST_HEALTH_DETAILS_TOKEN);
        expect(inside.status).toBe(200);
        expect(await inside.json()).toMatchObject({ status: 'ok', info: { nats: { status: 'up' }, postgres: { status: 'up' } } });
      }
    });

    it('tells the public only down when a dependency is, and the bearer which one and why', async () => {
      // A gateway whose PostgreSQL is behind a proxy, which then refuses every connection.
      const proxy = await TcpProxy.start(testDatabaseUrl());
      const down = await startGateway(engine.config.subjectPrefix, { DATABASE_URL: proxy.url });
      try {
        expect((await fetch(`${down.url}/health`)).status).toBe(200);
        proxy.cut('refuse');
        const health = await fetch(`${down.url}/health`);
        expect({ status: health.status, body: await health.json() }).toEqual({ status: 503, body: { status: 'down' } });
        const inside = await details(down.url, TEST_HEALTH_DETAILS_TOKEN);
        expect(inside.status).toBe(503);
        expect(await inside.json()).toMatchObject({ status: 'error', info: { nats: { status: 'up' } }, error: { postgres: { status: 'down', message: expect.any(String) } } });
      } finally {
        proxy.restore();
        await down.stop();
        await proxy.close();
      }
    });

    it('serves no details when HEALTH_DETAILS_TOKEN is not set', async () => {
      const none = await startGateway(engine.config.subjectPrefix, { HEALTH_DETAILS_TOKEN: '' });
      try {
        const answer = await details(none.url, TEST_HEALTH_DETAILS_TOKEN);
        expect(answer.status).toBe(401);
        expect(await answer.json()).toEqual({ ok: false, error: { code: 'UNAUTHENTICATED', message: expect.stringMatching(/off/) } });
      } finally {
        await none.stop();
      }
    });
  });
});
