import { randomBytes } from 'crypto';
import { isolatedNames, sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { FakeProviders } from './support/fake-providers';
import { startGateway, TestGateway } from './support/gateway';
import { eventually } from './support/lifecycle';

/**
 * Auto top-up's card saved through a Stripe SetupIntent (issue 15, item 4) against the real
 * engine, gateway, NATS, PostgreSQL and the local fake Stripe: `POST /api/v1/autotopup/setup`
 * makes the organization's one customer and a SetupIntent, the customer confirms the card (the
 * fake plays Stripe.js), `PUT` with the `setupIntentId` saves that card and a crossing charges it
 * off-session once; another organization's SetupIntent (403), one not confirmed (400) and
 * Stripe offline or down (503) save nothing.
 */
describe('auto top-up: the card saved through a SetupIntent', () => {
  const names = isolatedNames();
  const run = randomBytes(3).toString('hex');
  const fakes = new FakeProviders('autotopupsetup');
  let engine: TestEngine;
  let gateway: TestGateway;
  let offline: TestGateway;
  let client: WalletClient;
  let key = 0;

  beforeAll(async () => {
    await fakes.start();
    engine = await startEngine({}, names);
    gateway = await startGateway(names.subjectPrefix, { ...fakes.gatewayEnv(), STRIPE_PUBLISHABLE_KEY: fakes.credentials.stripe.publishableKey, STRIPE_JS_URL: fakes.stripe.jsUrl });
    // PAYMENT_PROVIDERS=offline (the tests' default), with a top-up rate limit a test reaches.
    offline = await startGateway(names.subjectPrefix, { RATE_LIMIT_TOPUPS_PER_ORG: '3' });
    fakes.deliverTo(gateway.url);
    client = await WalletClient.connect(names.subjectPrefix);
  });

  afterAll(async () => {
    await offline?.stop();
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    await fakes.stop();
  });

  const newOrg = (name: string) => `ats-${run}-${name}`;
  const wallet = async (org: string, command: string, body: object) => expect(await client.request(org, command, body)).toEqual(expect.objectContaining({ ok: true }));
  const topup = (org: string, amount: string) => wallet(org, 'topup', { idempotencyKey: `t-${run}-${++key}`, amount, currency: 'USD', provider: 'bank', reference: `bank-${run}-${key}` });
  const debit = (org: string, amount: string) => wallet(org, 'debit', { idempotencyKey: `d-${run}-${++key}`, amount, service: 'gpu-container', workspaceId: 'ws-1' });
  const balance = async (org: string) => (await client.request(org, 'balance')).balance;

  async function call(gw: TestGateway, org: string, method: string, path = '', body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${gw.url}/api/v1/autotopup${path}`, {
      method,
      headers: { authorization: `Bearer ${gw.token(org)}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  const settings = (overrides: Record<string, unknown>) => ({ currency: 'USD', trigger: { amount: '50.00' }, target: '200.00', maxPerTopup: '500.00', maxPerDay: '1000.00', maxPerMonth: '5000.00', consent: true, ...overrides });
  const nothingSaved = async (org: string) => {
    expect((await call(gateway, org, 'GET')).body).toEqual({ ok: true, autoTopup: null, history: [] });
    expect(await sql('select org_id from auto_topup_settings where org_id = $1', [org])).toEqual([]);
  };
  const customersOf = (org: string) => fakes.stripe.requests.filter((r) => r.method === 'POST' && r.url === '/v1/customers' && r.body.includes(encodeURIComponent(org)));
  const intentsOf = (org: string) => fakes.stripe.offSessionIntents().filter((pi) => pi.metadata.orgId === org);

  /** `POST setup`, then the customer confirms the card in the browser (played by the fake). */
  async function setUpCard(org: string): Promise<{ setupIntentId: string; customerId: string; paymentMethod: string }> {
    const setup = await call(gateway, org, 'POST', '/setup');
    expect(setup.status).toBe(200);
    const confirmed = fakes.stripe.setup.confirm(setup.body.setupIntentId);
    expect(confirmed.status).toBe(200);
    return { setupIntentId: setup.body.setupIntentId, customerId: setup.body.customerId, paymentMethod: (confirmed.body as any).payment_method };
  }

  it('sets up a card on the organization’s one customer, saves it by its SetupIntent, and a crossing charges it off-session once', async () => {
    const org = newOrg('one');
    await topup(org, '100');
    const setup = await call(gateway, org, 'POST', '/setup');
    expect(setup.status).toBe(200);
    expect(setup.body).toEqual({
      ok: true,
      setupIntentId: expect.stringMatching(/^seti_/),
      clientSecret: expect.stringMatching(new RegExp(`^${setup.body.setupIntentId}_secret_`)),
      customerId: expect.stringMatching(/^cus_/),
      publishableKey: fakes.credentials.stripe.publishableKey,
    });
    // At Stripe: a customer made for the organization, and a SetupIntent on it for off-session card charges.
    const seti = fakes.stripe.setup.setupIntents.get(setup.body.setupIntentId)!;
    expect(seti).toMatchObject({ customer: setup.body.customerId, usage: 'off_session', payment_method_types: ['card'], metadata: { orgId: org }, status: 'requires_payment_method' });
    expect(customersOf(org)).toHaveLength(1);
    expect(fakes.stripe.requests.find((r) => r.url === '/v1/setup_intents' && r.body.includes(encodeURIComponent(org)))?.headers['idempotency-key']).toMatch(new RegExp(`^autotopup-setup:${org}:`));
    // Two more setups, at once: the same customer, no other made.
    const again = await Promise.all([call(gateway, org, 'POST', '/setup'), call(gateway, org, 'POST', '/setup')]);
    expect(again.map((a) => [a.status, a.body.customerId])).toEqual([[200, setup.body.customerId], [200, setup.body.customerId]]);
    expect(new Set(again.map((a) => a.body.setupIntentId)).size).toBe(2);
    expect(customersOf(org)).toHaveLength(1);
    expect(await sql('select customer_id from stripe_customers where org_id = $1', [org])).toEqual([{ customer_id: setup.body.customerId }]);

    // The customer confirms the card (Stripe.js's confirmSetup); the settings name its SetupIntent.
    const confirmed = fakes.stripe.setup.confirm(setup.body.setupIntentId);
    const paymentMethod = (confirmed.body as any).payment_method as string;
    expect(confirmed.body).toMatchObject({ status: 'succeeded', payment_method: expect.stringMatching(/^pm_/) });
    const saved = await call(gateway, org, 'PUT', '', settings({ setupIntentId: setup.body.setupIntentId }));
    expect(saved.status).toBe(200);
    expect(saved.body.autoTopup).toMatchObject({ enabled: true, paymentMethod: { provider: 'stripe', customer: setup.body.customerId, id: paymentMethod }, consent: { by: expect.any(String) } });

    await debit(org, '60'); // 100 -> 40: below 50
    await eventually(() => balance(org), (b) => b.total === '200.00');
    await new Promise((r) => setTimeout(r, 500));
    const intents = intentsOf(org);
    expect(intents).toHaveLength(1);
    expect(intents[0]).toMatchObject({ amount: 16000, status: 'succeeded', customer: setup.body.customerId, payment_method: paymentMethod });
    expect((await balance(org)).total).toBe('200.00');
  });

  it("refuses another organization's SetupIntent (403, nothing saved) and charges nothing when the caller's balance crosses", async () => {
    const victim = newOrg('victim');
    const card = await setUpCard(victim);
    const thief = newOrg('thief');
    await topup(thief, '100');
    const stolen = await call(gateway, thief, 'PUT', '', settings({ setupIntentId: card.setupIntentId }));
    expect([stolen.status, stolen.body.error?.code]).toEqual([403, 'PAYMENT_METHOD_NOT_YOURS']);
    expect(stolen.body.error.message).toMatch(/not created for this organization/);
    await nothingSaved(thief);
    await debit(thief, '60');
    await new Promise((r) => setTimeout(r, 1000));
    expect(fakes.stripe.offSessionIntents().filter((pi) => pi.payment_method === card.paymentMethod)).toHaveLength(0);
    expect((await balance(thief)).total).toBe('40.00');
    // An id Stripe does not know: refused the same way.
    const unknown = await call(gateway, thief, 'PUT', '', settings({ setupIntentId: 'seti_nobody_has_this' }));
    expect([unknown.status, unknown.body.error?.code]).toEqual([403, 'PAYMENT_METHOD_NOT_YOURS']);
    await nothingSaved(thief);
  });

  it('refuses a SetupIntent not confirmed, or declined, with 400 and saves nothing; confirmed, it saves', async () => {
    const org = newOrg('unconfirmed');
    await topup(org, '100');
    const setup = await call(gateway, org, 'POST', '/setup');
    const early = await call(gateway, org, 'PUT', '', settings({ setupIntentId: setup.body.setupIntentId }));
    expect([early.status, early.body.error?.code]).toEqual([400, 'INVALID_FIELD']);
    expect(early.body.error.message).toMatch(/has not succeeded \(its status is requires_payment_method\): the card must be confirmed first/);
    fakes.stripe.setup.declineNextConfirm(1);
    expect(fakes.stripe.setup.confirm(setup.body.setupIntentId).status).toBe(402);
    expect((await call(gateway, org, 'PUT', '', settings({ setupIntentId: setup.body.setupIntentId }))).status).toBe(400);
    await nothingSaved(org);
    // Bad input: both ways of naming the card, or a malformed id.
    const both = await call(gateway, org, 'PUT', '', settings({ setupIntentId: setup.body.setupIntentId, paymentMethod: { customer: 'cus_1', id: 'pm_1' } }));
    expect([both.status, both.body.error?.message]).toEqual([400, expect.stringMatching(/exactly one of 'paymentMethod'.*'setupIntentId'/)]);
    expect((await call(gateway, org, 'PUT', '', settings({ setupIntentId: 'pi_123' }))).body.error.message).toMatch(/seti_/);
    await nothingSaved(org);
    // The customer tries the card again and it goes through: saved.
    expect(fakes.stripe.setup.confirm(setup.body.setupIntentId).status).toBe(200);
    expect((await call(gateway, org, 'PUT', '', settings({ setupIntentId: setup.body.setupIntentId }))).status).toBe(200);
  });

  it('answers 503 UNAVAILABLE and saves nothing when Stripe is down or PAYMENT_PROVIDERS=offline; the setup is rate limited', async () => {
    const org = newOrg('down');
    fakes.stripe.failNext(100, 503, { match: /^POST \/v1\/customers/ });
    try {
      const down = await call(gateway, org, 'POST', '/setup');
      expect([down.status, down.body.error?.code]).toEqual([503, 'UNAVAILABLE']);
      expect(down.body.error.message).toMatch(/Stripe could not set up a card/);
    } finally {
      fakes.stripe.clearFaults();
    }
    expect(await sql('select org_id from stripe_customers where org_id = $1', [org])).toEqual([]);
    await nothingSaved(org);

    const off = newOrg('offline');
    const setup = await call(offline, off, 'POST', '/setup');
    expect([setup.status, setup.body.error?.code]).toEqual([503, 'UNAVAILABLE']);
    expect(setup.body.error.message).toMatch(/PAYMENT_PROVIDERS=offline/);
    const put = await call(offline, off, 'PUT', '', settings({ setupIntentId: 'seti_anything' }));
    expect([put.status, put.body.error?.code]).toEqual([503, 'UNAVAILABLE']);
    expect(await sql('select org_id from stripe_customers where org_id = $1', [off])).toEqual([]);
    await nothingSaved(off);
    // Counted with the top-up starts (RATE_LIMIT_TOPUPS_PER_ORG=3 here): the next is refused before Stripe is asked.
    await call(offline, off, 'POST', '/setup');
    await call(offline, off, 'POST', '/setup');
    const limited = await call(offline, off, 'POST', '/setup');
    expect(limited.status).toBe(429);
  });
});
