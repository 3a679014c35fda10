import { randomBytes } from 'crypto';
import { createServer, Server } from 'http';
import { AddressInfo } from 'net';
import { INestApplication } from '@nestjs/common';
import { createAlertsApp } from '../apps/alerts/src/app';
import { AutoTopups } from '../apps/gateway/src/payments/auto-topups';
import { Decimal } from '@billing/domain';
import { testAlertsConfig, testResolver } from './support/alerts';
import { isolatedNames, readEvents, sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { FakeProviders } from './support/fake-providers';
import { startGateway, TestGateway } from './support/gateway';
import { eventually } from './support/lifecycle';

/**
 * Safe auto top-up (issue 15, item 4) against the real engine, two gateway processes, NATS,
 * PostgreSQL, the alert service and the local fake Stripe: a crossing makes exactly one
 * off-session top-up sized to the target, credited once; none while one is in flight; the caps
 * hold with 50 crossings at once and 50 deliveries of one crossing at once; a declined charge
 * turns auto top-up off and alerts the organization's webhook; bad input changes nothing; a card
 * Stripe does not say is the organization's (its customer's metadata.orgId) is refused.
 */
const CONCURRENT = 50;

describe('safe auto top-up', () => {
  const names = isolatedNames();
  const run = randomBytes(3).toString('hex');
  const fakes = new FakeProviders('autotopup');
  let engine: TestEngine;
  let gateway: TestGateway;
  let second: TestGateway;
  let client: WalletClient;
  let alerts: INestApplication;
  let receiver: Server;
  let receiverUrl = '';
  const received: any[] = [];
  let key = 0;

  beforeAll(async () => {
    await fakes.start();
    engine = await startEngine({}, names);
    const env = { ...fakes.gatewayEnv(), PAYMENTS_SWEEP_INTERVAL_MS: '200', PAYMENTS_SWEEP_MIN_AGE_MS: '5000' };
    gateway = await startGateway(names.subjectPrefix, env);
    second = await startGateway(names.subjectPrefix, env);
    fakes.deliverTo(gateway.url);
    client = await WalletClient.connect(names.subjectPrefix);
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
    alerts = await createAlertsApp(testAlertsConfig(names, { ALERTS_RETRY_BASE_MS: '50', ALERTS_RETRY_MAX_MS: '400' }), process.env.TEST_LOGS ? undefined : false, { resolve: testResolver() });
  });

  afterAll(async () => {
    await alerts?.close();
    await second?.stop();
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    await fakes.stop();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  const newOrg = (name: string) => `at-${run}-${name}`;
  const stripeIds = (org: string) => ({ customer: `cus_${org.replace(/-/g, '_')}`, id: `pm_${org.replace(/-/g, '_')}` });
  const wallet = async (org: string, command: string, body: object) => {
    const reply = await client.request(org, command, body);
    expect(reply).toMatchObject({ ok: true });
    return reply;
  };
  const topup = (org: string, amount: string) => wallet(org, 'topup', { idempotencyKey: `t-${run}-${++key}`, amount, currency: 'USD', provider: 'bank', reference: `bank-${run}-${key}` });
  const debit = (org: string, amount: string) => wallet(org, 'debit', { idempotencyKey: `d-${run}-${++key}`, amount, service: 'gpu-container', workspaceId: 'ws-1' });
  const balance = async (org: string) => (await client.request(org, 'balance')).balance;
  const topupEntries = async (org: string) => ((await client.request(org, 'ledger', { cursor: 0, limit: 500 })).entries as any[]).filter((e) => e.type === 'topup');

  async function call(gw: TestGateway, org: string, method: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${gw.url}/api/v1/autotopup`, {
      method,
      headers: { authorization: `Bearer ${gw.token(org)}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  const settings = (org: string, overrides: Record<string, unknown> = {}) => ({
    currency: 'USD',
    trigger: { amount: '50.00' },
    target: '200.00',
    maxPerTopup: '500.00',
    maxPerDay: '1000.00',
    maxPerMonth: '5000.00',
    paymentMethod: stripeIds(org),
    consent: true,
    ...overrides,
  });

  /** An organization with `amount` in its wallet and auto top-up on (its card saved at the fake Stripe). */
  async function ready(name: string, amount: string, overrides: Record<string, unknown> = {}): Promise<string> {
    const org = newOrg(name);
    const ids = stripeIds(org);
    fakes.stripe.savePaymentMethod(ids.customer, ids.id, org);
    await topup(org, amount);
    const saved = await call(gateway, org, 'PUT', settings(org, overrides));
    expect(saved.status).toBe(200);
    return org;
  }

  const intentsOf = (org: string) => fakes.stripe.offSessionIntents().filter((pi) => pi.metadata.orgId === org);
  const history = async (org: string) => (await call(gateway, org, 'GET')).body.history as any[];

  it('makes exactly one top-up sized to the target when the balance crosses the trigger, credited once', async () => {
    const org = await ready('one', '100');
    await debit(org, '60'); // 100 -> 40: below 50
    await eventually(() => balance(org), (b) => b.total === '200.00');
    const intents = intentsOf(org);
    expect(intents).toHaveLength(1);
    expect(intents[0]).toMatchObject({ amount: 16000, currency: 'usd', status: 'succeeded', customer: stripeIds(org).customer, payment_method: stripeIds(org).id });
    const [attempt] = await history(org);
    expect(attempt).toMatchObject({ status: 'submitted', amount: '160.00', topupStatus: 'succeeded', credited: true, paymentIntentId: intents[0].id, idempotencyKey: `autotopup:${org}:${attempt.crossingSeq}` });
    // Stripe's idempotency key is the crossing's.
    expect(fakes.stripe.requests.filter((r) => r.method === 'POST' && r.url === '/v1/payment_intents' && r.body.includes(encodeURIComponent(stripeIds(org).id))).map((r) => r.headers['idempotency-key'])).toEqual([attempt.idempotencyKey]);
    // The webhook of the same payment (sent by the fake) and Stripe's answer credited it once.
    await new Promise((r) => setTimeout(r, 500));
    expect(await topupEntries(org)).toHaveLength(2);
    expect((await balance(org)).total).toBe('200.00');
    // Above the trigger again: the next debits that stay above make nothing.
    await debit(org, '10');
    await new Promise((r) => setTimeout(r, 500));
    expect(intentsOf(org)).toHaveLength(1);
    expect((await balance(org)).total).toBe('190.00');
  });

  it('makes one top-up for a crossing delivered 50 times at once to each of two gateway processes', async () => {
    const org = await ready('storm', '100');
    await debit(org, '60');
    const b = await balance(org);
    const change = { seq: b.seq, point: { exactTotal: new Decimal(b.exact.total), runwaySeconds: b.runwaySeconds } };
    await Promise.all([gateway, second].flatMap((gw) => Array.from({ length: CONCURRENT }, () => gw.app.get(AutoTopups).look(org, change))));
    await eventually(() => balance(org), (x) => x.total === '200.00');
    await new Promise((r) => setTimeout(r, 500));
    expect(intentsOf(org)).toHaveLength(1);
    const rows = await sql('select status, amount::text from auto_topup_attempts where org_id = $1', [org]);
    expect(rows).toEqual([{ status: 'submitted', amount: '160.00000000' }]);
    expect((await topupEntries(org)).length).toBe(2);
    expect((await balance(org)).total).toBe('200.00');
  });

  it('holds the per-top-up, per-day and per-month caps with 50 organizations crossing at once', async () => {
    // Each: 100 in the wallet; trigger 50, target 300; at most 120 a top-up, 150 a day.
    const orgs = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => ready(`caps-${i}`, '100', { target: '300.00', maxPerTopup: '120.00', maxPerDay: '150.00', maxPerMonth: '1000.00' })));
    // One of them already took 900 of its month earlier this month (when today is not the 1st): 100 left.
    const monthly = orgs[0];
    const now = new Date();
    const earlier = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1, 0, 1));
    const monthCapTested = earlier.getTime() < Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    if (monthCapTested) {
      await sql(`insert into auto_topup_attempts (id, org_id, crossing_seq, idempotency_key, amount, currency, status, created_at, updated_at) values (gen_random_uuid(), $1, -5, 'earlier', 900, 'USD', 'submitted', $2, $2)`, [monthly, earlier]);
    }
    // First crossing, all at once: 100 -> 40; each asks for min(260, 120, 150 left today) = 120 (the monthly one 100).
    await Promise.all(orgs.map((org) => debit(org, '60')));
    for (const org of orgs) await eventually(() => balance(org), (b) => b.total === (org === monthly && monthCapTested ? '140.00' : '160.00'));
    // Second crossing: 160 -> 40, 30 left today (the monthly one: nothing left this month).
    await Promise.all(orgs.map((org) => debit(org, org === monthly && monthCapTested ? '100' : '120')));
    for (const org of orgs.filter((o) => o !== monthly || !monthCapTested)) await eventually(() => balance(org), (b) => b.total === '70.00');
    // Third crossing: 70 -> 40, nothing left today.
    await Promise.all(orgs.filter((o) => o !== monthly || !monthCapTested).map((org) => debit(org, '30')));
    for (const org of orgs) {
      const ours = async () => (await history(org)).filter((a) => a.idempotencyKey !== 'earlier');
      const attempts = await eventually(ours, (h) => h.length >= (org === monthly && monthCapTested ? 2 : 3));
      const charged = attempts.filter((a) => a.status === 'submitted');
      const total = charged.reduce((s, a) => s.plus(a.amount), new Decimal(0));
      expect(charged.every((a) => new Decimal(a.amount).lessThanOrEqualTo(120))).toBe(true);
      expect(total.lessThanOrEqualTo(150)).toBe(true);
      if (org === monthly && monthCapTested) {
        expect(attempts.map((a) => [a.status, a.amount, a.reason])).toEqual([['skipped', null, 'per_month_cap'], ['submitted', '100.00', null]]);
      } else {
        expect(attempts.map((a) => [a.status, a.amount, a.reason])).toEqual([['skipped', null, 'per_day_cap'], ['submitted', '30.00', null], ['submitted', '120.00', null]]);
        expect(intentsOf(org).map((pi) => pi.amount)).toEqual([12000, 3000]);
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const org of orgs) expect((await balance(org)).total).toBe('40.00');
  });

  it('asks for no second top-up while one is in flight, and credits the first when Stripe completes it', async () => {
    fakes.stripe.processNextOffSession(1);
    const org = await ready('flight', '100');
    await debit(org, '60'); // crossing: a bank debit left processing
    const [first] = await eventually(() => history(org), (h) => h.length === 1 && h[0].status === 'submitted');
    expect(first).toMatchObject({ topupStatus: 'pending', amount: '160.00' });
    await topup(org, '100'); // 40 -> 140: re-armed
    await debit(org, '100'); // 140 -> 40: a second crossing while the first is in flight
    const attempts = await eventually(() => history(org), (h) => h.length === 2);
    expect(attempts[0]).toMatchObject({ status: 'skipped', reason: 'in_flight', amount: null });
    expect(intentsOf(org)).toHaveLength(1);
    expect((await balance(org)).total).toBe('40.00');
    // Stripe completes the first: its webhook credits it, once.
    expect((await fakes.stripe.completeProcessing(first.paymentIntentId)).body).toMatchObject({ outcome: 'credited' });
    await eventually(() => balance(org), (b) => b.total === '200.00');
    expect((await history(org))[1]).toMatchObject({ topupStatus: 'succeeded', credited: true });
  });

  it('charges once and stays on when Stripe took the charge but its answers were lost: the sweep asks again with the same key', async () => {
    const org = await ready('lost-answer', '100');
    fakes.stripe.loseAnswers(1000);
    await debit(org, '60'); // 100 -> 40: below 50
    // Every answer lost, past the client's retries: the outcome is unknown, so nothing is failed.
    await eventually(() => history(org), (h) => h.length === 1);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await call(gateway, org, 'GET')).body.autoTopup.enabled).toBe(true);
    // Stripe did charge; its webhook (which does arrive) may already have credited it.
    expect((await history(org))[0]).toMatchObject({ status: 'charging' });
    expect(intentsOf(org)).toHaveLength(1);
    // Answers come back: the sweep asks with the same key and Stripe replays the first outcome.
    fakes.stripe.loseAnswers(0);
    await eventually(async () => (await history(org))[0], (a) => a.status === 'submitted', 30_000);
    expect((await history(org))[0]).toMatchObject({ status: 'submitted', credited: true });
    expect((await balance(org)).total).toBe('200.00');
    expect(intentsOf(org)).toHaveLength(1);
    expect((await call(gateway, org, 'GET')).body.autoTopup.enabled).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(await topupEntries(org)).toHaveLength(2);
  });

  it('turns auto top-up off on a declined charge, records why, and alerts the organization', async () => {
    const org = newOrg('declined');
    const set = await client.nc.request(`${names.subjectPrefix}.alerts.${org}.webhooks.set`, Buffer.from(JSON.stringify({ endpoints: [{ url: receiverUrl, secret: 'autotopup-secret-0123456789' }] })), { timeout: 10_000 });
    expect(JSON.parse(Buffer.from(set.data).toString('utf8'))).toMatchObject({ ok: true });
    const ids = stripeIds(org);
    fakes.stripe.savePaymentMethod(ids.customer, ids.id, org);
    await topup(org, '100');
    expect((await call(gateway, org, 'PUT', settings(org))).status).toBe(200);
    fakes.stripe.declineNext(1);
    await debit(org, '60');
    const shown = await eventually(() => call(gateway, org, 'GET'), (r) => r.body.autoTopup.enabled === false);
    expect(shown.body.autoTopup.disabledReason).toMatch(/declined: stripe: Your card was declined/);
    expect(shown.body.history[0]).toMatchObject({ status: 'failed', amount: '160.00', topupStatus: 'failed', credited: false });
    const [event] = await readEvents(client.nc, names.eventsStream, `${names.subjectPrefix}.events.${org}.auto_topup_failed`, 1);
    expect(event).toMatchObject({ type: 'auto_topup_failed', orgId: org, attemptId: shown.body.history[0].id, amount: '160.00', currency: 'USD', code: 'declined' });
    await eventually(async () => received.filter((r) => r.orgId === org), (r) => r.length === 1);
    expect(received.find((r) => r.orgId === org)).toMatchObject({ eventId: event.eventId, type: 'auto_topup_failed' });
    expect((await balance(org)).total).toBe('40.00');
    // Off: the next crossing charges nothing.
    await topup(org, '100');
    await debit(org, '100');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await call(gateway, org, 'GET')).body.history).toHaveLength(1);
    expect(fakes.stripe.offSessionIntents().filter((pi) => pi.metadata.orgId === org)).toHaveLength(0);
  });

  it('refuses bad input with a clear error and changes nothing', async () => {
    const org = await ready('bad', '100');
    const before = (await call(gateway, org, 'GET')).body;
    const cases: [Record<string, unknown> | string, number, string, RegExp][] = [
      [{ maxPerDay: '-5.00' }, 400, 'INVALID_AMOUNT', /maxPerDay/],
      [{ maxPerTopup: 5 }, 400, 'INVALID_AMOUNT', /decimal string/],
      [{ target: '50.00' }, 400, 'INVALID_FIELD', /must be above the trigger/],
      [{ target: '20.00' }, 400, 'INVALID_FIELD', /must be above the trigger/],
      [{ currency: 'EUR' }, 400, 'UNKNOWN_CURRENCY', /currency/],
      [{ consent: false }, 400, 'INVALID_FIELD', /consent/],
      [{ consent: 'yes' }, 400, 'INVALID_FIELD', /consent/],
      [{ maxPerTopup: '2000.00' }, 400, 'INVALID_FIELD', /maxPerTopup.*maxPerDay/],
      [{ maxPerMonth: '10.00' }, 400, 'INVALID_FIELD', /maxPerDay.*maxPerMonth/],
      [{ trigger: { amount: '10.00', runwaySeconds: 3600 } }, 400, 'INVALID_FIELD', /exactly one/],
      [{ trigger: { runwaySeconds: 5 } }, 400, 'INVALID_FIELD', /runwaySeconds/],
      [{ target: '200.001' }, 400, 'TOO_MANY_DECIMALS', /target/],
      [{ paymentMethod: { customer: 'someone', id: 'pm_1' } }, 400, 'INVALID_FIELD', /customer/],
      [{ currency: 'JPY', trigger: { amount: '5000' }, target: '20000', maxPerTopup: '20000', maxPerDay: '20000', maxPerMonth: '20000' }, 409, 'CURRENCY_LOCKED', /USD/],
    ];
    for (const [overrides, status, code, message] of cases) {
      const answer = await call(gateway, org, 'PUT', settings(org, overrides as Record<string, unknown>));
      expect([answer.status, answer.body.error?.code]).toEqual([status, code]);
      expect(answer.body.error.message).toMatch(message);
    }
    expect((await call(gateway, org, 'PUT', '[1, 2]')).status).toBe(400);
    expect((await call(gateway, org, 'GET')).body).toEqual(before);
    // A fresh organization: nothing is recorded by a refusal.
    const fresh = newOrg('fresh');
    expect((await call(gateway, fresh, 'PUT', settings(fresh, { maxPerDay: '-1' }))).status).toBe(400);
    expect((await call(gateway, fresh, 'GET')).body).toEqual({ ok: true, autoTopup: null, history: [] });
    expect((await fetch(`${gateway.url}/api/v1/autotopup`, { method: 'PUT', body: '{}' })).status).toBe(401);
  });

  it("refuses another organization's customer and card (403, nothing saved) and charges nothing when that organization's balance crosses", async () => {
    const victim = await ready('victim', '100');
    const thief = newOrg('thief');
    await topup(thief, '100');
    const stolen = await call(gateway, thief, 'PUT', settings(thief, { paymentMethod: stripeIds(victim) }));
    expect([stolen.status, stolen.body.error?.code]).toEqual([403, 'PAYMENT_METHOD_NOT_YOURS']);
    expect(stolen.body.error.message).toMatch(/not created for this organization/);
    expect((await call(gateway, thief, 'GET')).body).toEqual({ ok: true, autoTopup: null, history: [] });
    expect(await sql('select org_id from auto_topup_settings where org_id = $1', [thief])).toEqual([]);
    // The other organization's balance crosses its would-be trigger (100 -> 40): the victim's card is not charged for it.
    await debit(thief, '60');
    await new Promise((r) => setTimeout(r, 1000));
    expect(intentsOf(thief)).toHaveLength(0);
    expect(fakes.stripe.offSessionIntents().filter((pi) => pi.customer === stripeIds(victim).customer)).toHaveLength(0);
    expect((await balance(thief)).total).toBe('40.00');
    expect((await balance(victim)).total).toBe('100.00');
  });

  it("refuses a payment method saved to another customer, even with the organization's own customer (403, nothing saved)", async () => {
    const other = newOrg('other-card');
    fakes.stripe.savePaymentMethod(stripeIds(other).customer, stripeIds(other).id, other);
    const org = newOrg('own-customer');
    const ids = stripeIds(org);
    fakes.stripe.savePaymentMethod(ids.customer, ids.id, org);
    await topup(org, '100');
    const mixed = await call(gateway, org, 'PUT', settings(org, { paymentMethod: { customer: ids.customer, id: stripeIds(other).id } }));
    expect([mixed.status, mixed.body.error?.code]).toEqual([403, 'PAYMENT_METHOD_NOT_YOURS']);
    expect(mixed.body.error.message).toMatch(/not attached to that customer/);
    // Ids Stripe does not know: refused the same way.
    const unknown = await call(gateway, org, 'PUT', settings(org, { paymentMethod: { customer: ids.customer, id: 'pm_nobody_has_this' } }));
    expect([unknown.status, unknown.body.error?.code]).toEqual([403, 'PAYMENT_METHOD_NOT_YOURS']);
    expect((await call(gateway, org, 'GET')).body).toEqual({ ok: true, autoTopup: null, history: [] });
    await debit(org, '60');
    await new Promise((r) => setTimeout(r, 500));
    expect(intentsOf(org)).toHaveLength(0);
    expect(fakes.stripe.offSessionIntents().filter((pi) => pi.payment_method === stripeIds(other).id)).toHaveLength(0);
  });

  it('refuses with 503 UNAVAILABLE and saves nothing when Stripe cannot be asked whose card it is', async () => {
    const org = newOrg('stripe-down');
    const ids = stripeIds(org);
    fakes.stripe.savePaymentMethod(ids.customer, ids.id, org);
    await topup(org, '100');
    fakes.stripe.failNext(100, 503, { match: /^GET \/v1\/(payment_methods|customers)\// });
    try {
      const down = await call(gateway, org, 'PUT', settings(org));
      expect([down.status, down.body.error?.code]).toEqual([503, 'UNAVAILABLE']);
    } finally {
      fakes.stripe.clearFaults();
    }
    expect((await call(gateway, org, 'GET')).body).toEqual({ ok: true, autoTopup: null, history: [] });
    // Stripe back: the same request is saved.
    expect((await call(gateway, org, 'PUT', settings(org))).status).toBe(200);
  });

  it('records the consent with the caller and the time, and turns off on DELETE', async () => {
    const org = await ready('consent', '500');
    const shown = (await call(gateway, org, 'GET')).body.autoTopup;
    expect(shown).toMatchObject({ enabled: true, currency: 'USD', trigger: { amount: '50.00' }, target: '200.00', maxPerTopup: '500.00', paymentMethod: { provider: 'stripe', ...stripeIds(org) }, consent: { by: expect.any(String), at: expect.any(String) } });
    expect(Date.now() - Date.parse(shown.consent.at)).toBeLessThan(60_000);
    const off = await call(gateway, org, 'DELETE');
    expect(off.body.autoTopup).toMatchObject({ enabled: false, disabledReason: expect.stringMatching(/^turned off by /) });
    await debit(org, '480');
    await new Promise((r) => setTimeout(r, 500));
    expect(intentsOf(org)).toHaveLength(0);
  });
});
