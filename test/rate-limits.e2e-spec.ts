import jwt from 'jsonwebtoken';
import Stripe from 'stripe';
import { io } from 'socket.io-client';
import { DEV_STRIPE_WEBHOOK_SECRET } from '../apps/gateway/src/payments/payments.config';
import { sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { startGateway, TEST_JWT_SECRET, TestGateway } from './support/gateway';

/**
 * The gateway's rate limits, against the real gateway and engine: top-up starts and voucher
 * redemptions per organization and per client address, failed authentications per address
 * (HTTP and socket handshakes together); provider webhooks never limited. The gateway trusts
 * loopback as its proxy here, so that each test can play clients at other addresses with
 * X-Forwarded-For; one gateway trusts no proxy, to show the header is then ignored.
 */
describe('rate limits at the gateway', () => {
  const LIMITS = {
    RATE_LIMIT_TOPUPS_PER_ORG: '3',
    RATE_LIMIT_TOPUPS_PER_ADDRESS: '5',
    RATE_LIMIT_TOPUPS_WINDOW_SECONDS: '60',
    RATE_LIMIT_REDEEMS_PER_ORG: '2',
    RATE_LIMIT_REDEEMS_PER_ADDRESS: '4',
    RATE_LIMIT_REDEEMS_WINDOW_SECONDS: '3600',
    RATE_LIMIT_AUTH_FAILURES_PER_ADDRESS: '4',
    RATE_LIMIT_AUTH_FAILURES_WINDOW_SECONDS: '60',
  };
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;

  beforeAll(async () => {
    engine = await startEngine();
    gateway = await startGateway(engine.config.subjectPrefix, { ...LIMITS, TRUSTED_PROXIES: 'loopback' });
    client = await WalletClient.connect(engine.config.subjectPrefix);
  });

  afterAll(async () => {
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
  });

  type Answer = { status: number; retryAfter: string | null; body: any };
  async function call(path: string, init: { method?: string; token?: string; from?: string; body?: unknown; headers?: Record<string, string> } = {}, on = gateway): Promise<Answer> {
    const res = await fetch(`${on.url}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(init.token !== undefined ? { authorization: `Bearer ${init.token}` } : {}),
        ...(init.from ? { 'x-forwarded-for': init.from } : {}),
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
      body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
  }
  const startTopup = (org: string, from: string) => call('/api/v1/topups', { token: gateway.token(org), from, body: { amount: '10.00', currency: 'USD', provider: 'stripe' } });
  const redeem = (org: string, from: string, code: string) => call('/api/v1/wallet/redeem', { token: gateway.token(org), from, body: { idempotencyKey: `r-${code}`, code } });
  const intents = async (org: string) => Number((await sql('select count(*) as n from topup_intents where org_id = $1', [org]))[0].n);
  /** A token the gateway refuses: right claims, another secret. */
  const forged = (org: string) => jwt.sign({ org, iss: gateway.tokens.issuer, aud: gateway.tokens.audience }, 'not-the-gateway-secret-0123456789abcdef', { expiresIn: 300 });

  function expectRateLimited(answer: Answer, windowSeconds: number): void {
    expect(answer).toEqual({ status: 429, retryAfter: expect.stringMatching(/^\d+$/), body: { ok: false, error: { code: 'RATE_LIMITED', message: expect.any(String) } } });
    expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(answer.retryAfter)).toBeLessThanOrEqual(windowSeconds);
  }

  /** A socket handshake from `from` (through the trusted proxy); resolves with the refusal's data, or 'connected'. */
  function handshake(token: string, from: string): Promise<{ message: string; data?: any } | 'connected'> {
    return new Promise((resolve) => {
      const socket = io(gateway.url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { 'x-forwarded-for': from } });
      socket.once('connect', () => {
        socket.close();
        resolve('connected');
      });
      socket.once('connect_error', (error: Error & { data?: any }) => {
        socket.close();
        resolve({ message: error.message, data: error.data });
      });
    });
  }

  it('answers the N+1th top-up start of an organization within the window 429 with Retry-After, and records nothing', async () => {
    const org = 'rl-topup-org';
    for (let i = 0; i < 3; i++) expect((await startTopup(org, `198.51.100.${10 + i}`)).status).toBe(201);
    expect(await intents(org)).toBe(3);
    // The fourth, from yet another address: the organization's limit.
    const refused = await startTopup(org, '198.51.100.13');
    expectRateLimited(refused, 60);
    expect(refused.body.error.message).toMatch(/top-up starts from this organization \(3 per 60 s\)/);
    expect(await intents(org)).toBe(3);
    // Another organization is not held back by this one.
    expect((await startTopup('rl-topup-other', '198.51.100.13')).status).toBe(201);
  });

  it('answers the N+1th top-up start from one address 429 whatever the organization, and records nothing', async () => {
    const from = '203.0.113.50';
    for (let i = 0; i < 5; i++) expect((await startTopup(`rl-addr-${i}`, from)).status).toBe(201);
    const refused = await startTopup('rl-addr-5', from);
    expectRateLimited(refused, 60);
    expect(refused.body.error.message).toMatch(/from this address \(5 per 60 s\)/);
    expect(await intents('rl-addr-5')).toBe(0);
    // The same organization from another address goes through.
    expect((await startTopup('rl-addr-5', '203.0.113.51')).status).toBe(201);
  });

  it('limits voucher redemptions per organization and per address before the engine is asked', async () => {
    // Unknown codes: the engine answers 404 for each, until the limit answers instead.
    expect((await redeem('rl-redeem', '192.0.2.1', 'NOPE1')).status).toBe(404);
    expect((await redeem('rl-redeem', '192.0.2.2', 'NOPE2')).body.error.code).toBe('UNKNOWN_VOUCHER_CODE');
    const refused = await redeem('rl-redeem', '192.0.2.3', 'NOPE3');
    expectRateLimited(refused, 3600);
    expect(refused.body.error.message).toMatch(/voucher redemptions from this organization/);
    // Per address: four organizations from one address, then the fifth is refused.
    for (let i = 0; i < 4; i++) expect((await redeem(`rl-redeem-${i}`, '192.0.2.99', `GUESS${i}`)).status).toBe(404);
    expectRateLimited(await redeem('rl-redeem-4', '192.0.2.99', 'GUESS4'), 3600);
    // Top-ups are counted apart from redemptions.
    expect((await startTopup('rl-redeem-4', '192.0.2.99')).status).toBe(201);
  });

  it('limits failed authentications per address over HTTP, then refuses even a good token from there, and no other address', async () => {
    const from = '198.18.0.1';
    for (let i = 0; i < 4; i++) {
      const answer = await call('/api/v1/wallet', { token: forged('rl-auth'), from });
      expect(answer).toMatchObject({ status: 401, body: { ok: false, error: { code: 'UNAUTHENTICATED' } } });
    }
    expectRateLimited(await call('/api/v1/wallet', { token: forged('rl-auth'), from }), 60);
    // No token at all, an expired one, a good one: all refused from this address now.
    expectRateLimited(await call('/api/v1/wallet', { from }), 60);
    expectRateLimited(await call('/api/v1/wallet', { token: jwt.sign({ org: 'rl-auth', iss: gateway.tokens.issuer, aud: gateway.tokens.audience, iat: Math.floor(Date.now() / 1000) - 120, exp: Math.floor(Date.now() / 1000) - 60 }, TEST_JWT_SECRET), from }), 60);
    expectRateLimited(await call('/api/v1/wallet', { token: gateway.token('rl-auth'), from }), 60);
    const handshakeRefused = await handshake(gateway.token('rl-auth'), from);
    expect(handshakeRefused).toEqual({ message: expect.stringMatching(/too many failed authentications/), data: { code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) } });
    // Another address with the same organization's good token is served.
    expect((await call('/api/v1/wallet', { token: gateway.token('rl-auth'), from: '198.18.0.2' })).status).toBe(200);
  });

  it('counts refused socket handshakes as failed authentications, together with HTTP', async () => {
    const from = '198.18.1.1';
    for (let i = 0; i < 3; i++) expect(await handshake(forged('rl-sock'), from)).toMatchObject({ data: { code: 'UNAUTHENTICATED' } });
    expect((await call('/api/v1/wallet', { token: 'junk', from })).status).toBe(401);
    expect(await handshake(forged('rl-sock'), from)).toMatchObject({ data: { code: 'RATE_LIMITED' } });
    expectRateLimited(await call('/api/v1/wallet', { token: gateway.token('rl-sock'), from }), 60);
    expect(await handshake(gateway.token('rl-sock'), '198.18.1.2')).toBe('connected');
  });

  it('never limits provider webhooks, even from an address refused for failed authentications', async () => {
    const from = '198.18.2.1';
    for (let i = 0; i < 5; i++) await call('/api/v1/wallet', { token: 'junk', from });
    expectRateLimited(await call('/api/v1/wallet', { token: gateway.token('rl-hook'), from }), 60);
    // Forged webhooks, far more than any limit: each verified and refused on its own (400), none 429.
    const payload = JSON.stringify({ id: 'evt_x', object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_x', amount_received: 100, currency: 'usd', metadata: { topupId: 'x' } } } });
    const bad = await Promise.all(Array.from({ length: 30 }, () => call('/webhooks/stripe', { from, body: payload, headers: { 'stripe-signature': 't=1,v1=00' } })));
    expect(bad.map((a) => a.status)).toEqual(Array(30).fill(400));
    // A real confirmation from that address is credited.
    const started = await startTopup('rl-hook', '198.18.2.2');
    expect(started.status).toBe(201);
    const topup = started.body.topup;
    const event = JSON.stringify({ id: 'evt_rl_hook', object: 'event', type: 'payment_intent.succeeded', data: { object: { id: topup.stripe.paymentIntentId, object: 'payment_intent', amount_received: 1000, currency: 'usd', metadata: { topupId: topup.id } } } });
    const confirmed = await call('/webhooks/stripe', { from, body: event, headers: { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: event, secret: DEV_STRIPE_WEBHOOK_SECRET }) } });
    expect(confirmed).toMatchObject({ status: 200, body: { received: true, outcome: 'credited' } });
    expect((await client.request('rl-hook', 'balance')).balance.total).toBe('10.00');
  });

  it('believes no X-Forwarded-For without TRUSTED_PROXIES: a client cannot dodge its limit by writing one', async () => {
    const direct = await startGateway(engine.config.subjectPrefix, { ...LIMITS });
    try {
      for (let i = 0; i < 4; i++) expect((await call('/api/v1/wallet', { token: 'junk', from: `100.64.0.${i}` }, direct)).status).toBe(401);
      expectRateLimited(await call('/api/v1/wallet', { token: 'junk', from: '100.64.0.99' }, direct), 60);
      expectRateLimited(await call('/api/v1/wallet', { token: gateway.token('rl-direct'), from: '100.64.1.1' }, direct), 60);
    } finally {
      await direct.stop();
    }
  });
});
