import { randomBytes } from 'crypto';
import { sql, startEngine, testDatabaseUrl, TestEngine, WalletClient } from './support/engine';
import { FakeProviders } from './support/fake-providers';
import { startGateway, TestGateway } from './support/gateway';
import { TcpProxy } from './support/servers';

/**
 * The policy around paid top-ups, with the real gateway (its real provider clients pointed at the
 * local fakes), engine, PostgreSQL and NATS: the amount limits per top-up and per 24 hours, a
 * provider refusing an amount or down when a top-up starts, PayPal's capture answer settling at
 * once, and operator refunds (the only refunds: customers cannot refund a top-up).
 */
describe('paid top-ups: limits, provider refusals and outages, PayPal capture answers, operator refunds', () => {
  const tag = randomBytes(3).toString('hex');
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;
  let settings: Record<string, string>;
  const providers = new FakeProviders('operations');
  const { stripe, paypal, vnpay } = providers;

  beforeAll(async () => {
    await providers.start();
    engine = await startEngine();
    settings = providers.gatewayEnv({
      PAYMENT_PROVIDER_TIMEOUT_MS: '1000',
      // The documented limits (empty: the default), but a USD minimum under Stripe's own, so Stripe's refusal can be met.
      TOPUP_MIN_USD: '0.01',
      TOPUP_MAX_USD: '',
      TOPUP_DAILY_MAX_USD: '',
      TOPUP_MIN_VND: '',
      TOPUP_MAX_VND: '',
      TOPUP_DAILY_MAX_VND: '',
      TOPUP_MIN_JPY: '',
      TOPUP_MAX_JPY: '',
      TOPUP_DAILY_MAX_JPY: '',
    });
    gateway = await startGateway(engine.config.subjectPrefix, settings);
    providers.deliverTo(gateway.url);
    client = await WalletClient.connect(engine.config.subjectPrefix);
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    await providers.stop();
  });

  afterEach(() => {
    providers.clearFaults();
    paypal.autoWebhooks = true;
  });

  const org = (name: string) => `ops-${tag}-${name}`;
  async function http(method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string>; to?: TestGateway } = {}): Promise<{ status: number; headers: Headers; body: any }> {
    const res = await fetch(`${(options.to ?? gateway).url}${path}`, {
      method,
      headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
      body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
    });
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // kept as text
    }
    return { status: res.status, headers: res.headers, body };
  }
  const start = (orgId: string, body: object) => http('POST', '/api/v1/topups', { token: gateway.token(orgId), body });
  const rows = (orgId: string) => sql('select id, status, amount::text, capture_ref from topup_intents where org_id = $1 order by created_at', [orgId]);
  const row = async (id: string) => (await sql('select status, capture_ref, failure_reason from topup_intents where id = $1', [id]))[0];
  const balance = async (orgId: string) => (await client.request(orgId, 'balance')).balance;
  const ledger = async (orgId: string): Promise<any[]> => (await client.request(orgId, 'ledger', { cursor: 0, limit: 500 })).entries;
  const providerCalls = () => stripe.requests.length + paypal.requests.length + vnpay.requests.length;

  describe('limits: per top-up and per 24 hours, per currency, refused before any provider call', () => {
    it('refuses a top-up under the minimum or over the maximum with 400 and its code; nothing is recorded', async () => {
      const o = org('bounds');
      const calls = providerCalls();
      const refused = [
        [{ amount: '499', currency: 'JPY', provider: 'stripe' }, 'TOPUP_AMOUNT_TOO_SMALL', 'a top-up is at least 500 JPY'],
        [{ amount: '1500001', currency: 'JPY', provider: 'paypal' }, 'TOPUP_AMOUNT_TOO_LARGE', 'a top-up is at most 1500000 JPY'],
        [{ amount: '99999', currency: 'VND', provider: 'vnpay' }, 'TOPUP_AMOUNT_TOO_SMALL', 'a top-up is at least 100000 VND'],
        [{ amount: '10000.01', currency: 'USD', provider: 'stripe' }, 'TOPUP_AMOUNT_TOO_LARGE', 'a top-up is at most 10000.00 USD'],
      ] as const;
      for (const [body, code, message] of refused) {
        const res = await start(o, body);
        expect([res.status, res.body]).toEqual([400, { ok: false, error: { code, message } }]);
      }
      expect(providerCalls()).toBe(calls);
      expect(await rows(o)).toEqual([]);
      expect((await start(o, { amount: '500', currency: 'JPY', provider: 'stripe' })).status).toBe(201);
    });

    it('refuses what would take the last 24 hours past the daily maximum; failed top-ups do not count', async () => {
      const o = org('daily');
      for (let i = 0; i < 2; i++) expect((await start(o, { amount: '10000.00', currency: 'USD', provider: 'stripe' })).status).toBe(201);
      const calls = providerCalls();
      const refused = await start(o, { amount: '0.01', currency: 'USD', provider: 'paypal' });
      expect(refused).toMatchObject({ status: 400, body: { error: { code: 'TOPUP_DAILY_LIMIT', message: 'at most 20000.00 USD of top-ups may be started in 24 hours; 20000.00 already were, so at most 0.00 more' } } });
      expect(providerCalls()).toBe(calls);
      expect(await rows(o)).toHaveLength(2);
      // One of them fails at Stripe: what it asked is free again.
      const [first] = await rows(o);
      const pi = (await sql('select provider_ref from topup_intents where id = $1', [first.id]))[0].provider_ref;
      expect((await stripe.pay(pi, 'declined')).status).toBe(200);
      expect((await row(first.id)).status).toBe('failed');
      expect((await start(o, { amount: '10000.00', currency: 'USD', provider: 'stripe' })).status).toBe(201);
    });

    it('holds the daily maximum against concurrent starts: what fits is started, the rest refused, nothing half-made', async () => {
      const o = org('race');
      const answers = await Promise.all(Array.from({ length: 6 }, () => start(o, { amount: '6000.00', currency: 'USD', provider: 'stripe' })));
      expect(answers.map((a) => a.status).sort()).toEqual([201, 201, 201, 400, 400, 400]);
      for (const a of answers.filter((a) => a.status === 400)) expect(a.body.error.code).toBe('TOPUP_DAILY_LIMIT');
      expect((await rows(o)).map((r) => r.amount)).toEqual(['6000.00000000', '6000.00000000', '6000.00000000']);
    });
  });

  describe('the provider at start', () => {
    it("answers 400 when the provider refuses the amount (Stripe's minimum), not 503; nothing recorded", async () => {
      const o = org('stripe-min');
      const res = await start(o, { amount: '0.10', currency: 'USD', provider: 'stripe' });
      expect(res).toMatchObject({ status: 400, body: { ok: false, error: { code: 'PROVIDER_REFUSED', message: expect.stringMatching(/^stripe refused the payment: stripe: Amount must be at least \$0\.50 usd/) } } });
      expect(await rows(o)).toEqual([]);
    });

    it('gives the browser 503 and records nothing when PayPal is down, times out or refuses our credentials', async () => {
      const o = org('paypal-down');
      paypal.failNext(3, 503, { match: /^POST \/v2\/checkout\/orders$/ });
      const down = await start(o, { amount: '10.00', currency: 'USD', provider: 'paypal' });
      expect(down).toMatchObject({ status: 503, body: { error: { code: 'UNAVAILABLE', message: expect.stringMatching(/^paypal did not start the payment/) } } });
      paypal.stallNext(3, 3_000, { match: /^POST \/v2\/checkout\/orders$/ });
      expect((await start(o, { amount: '11.00', currency: 'USD', provider: 'paypal' })).status).toBe(503);
      paypal.revokeTokens();
      paypal.failNext(10, 401, { match: /oauth2\/token/, body: { error: 'invalid_client', error_description: 'Client Authentication failed' } });
      expect((await start(o, { amount: '12.00', currency: 'USD', provider: 'paypal' })).status).toBe(503);
      expect(await rows(o)).toEqual([]);
      paypal.clearFaults();
      expect((await start(o, { amount: '13.00', currency: 'USD', provider: 'paypal' })).status).toBe(201);
      expect(await rows(o)).toHaveLength(1);
    });
  });

  describe("PayPal's capture answer", () => {
    it('credits at the return URL from the capture answer itself; a refund naming the capture finds it before PAYMENT.CAPTURE.COMPLETED; that one changes nothing', async () => {
      const o = org('paypal-answer');
      paypal.autoWebhooks = false;
      const topup = (await start(o, { amount: '40.00', currency: 'USD', provider: 'paypal' })).body.topup;
      const { returnUrl } = await paypal.approve(topup.paypal.orderId, { webhook: false });
      const back = await fetch(`${gateway.url}${new URL(returnUrl).pathname}${new URL(returnUrl).search}`, { redirect: 'manual' });
      expect(back.status).toBe(303);
      // No webhook at all: the capture's answer credited it.
      expect(await balance(o)).toMatchObject({ total: '40.00' });
      const capture = [...paypal.captures.values()].find((c) => c.orderId === topup.paypal.orderId)!;
      expect(await row(topup.id)).toMatchObject({ status: 'succeeded', capture_ref: capture.id });
      const refund = { id: 'REFUNDEARLY0000001', status: 'COMPLETED', amount: { currency_code: 'USD', value: '15.00' }, links: [{ href: `${paypal.url}/v2/payments/captures/${capture.id}`, rel: 'up', method: 'GET' }] };
      expect((await paypal.sendEvent('PAYMENT.CAPTURE.REFUNDED', refund)).body.outcome).toBe('reversed');
      const completed = { id: capture.id, status: 'COMPLETED', amount: capture.amount, custom_id: topup.id, supplementary_data: { related_ids: { order_id: topup.paypal.orderId } } };
      expect((await paypal.sendEvent('PAYMENT.CAPTURE.COMPLETED', completed)).body.outcome).toBe('recorded');
      expect((await ledger(o)).map((e) => [e.type, e.amount])).toEqual([['topup', '40'], ['reversal', '-15']]);
    });
  });

  describe('bad input where PayPal sends the buyer back', () => {
    it('answers junk return URLs without a 5xx and never asks PayPal about an order that is not a pending top-up of ours', async () => {
      const calls = paypal.requests.length;
      for (const query of ['', 'token=', 'token=x', 'token=A&token=B', `token=${'A'.repeat(5000)}`, 'token=%00', 'token=../../v1/oauth2/token', 'token=ABC%2F..%2Fcapture', 'cancelled=1&token=%ZZ', 'PayerID=only']) {
        const res = await fetch(`${gateway.url}/payments/paypal/return?${query}`, { redirect: 'manual' });
        expect([query, res.status < 500]).toEqual([query, true]);
      }
      expect(paypal.requests.length).toBe(calls);
    });
  });

  describe('operator refunds', () => {
    const refund = (topupId: string, body: unknown, options: { key?: string; token?: string } = {}) =>
      http('POST', `/api/v1/operator/topups/${topupId}/refunds`, { token: options.token ?? gateway.operatorToken(`refunder-${tag}`), body, headers: options.key ? { 'idempotency-key': options.key } : {} });
    const audit = async (orgId: string): Promise<any[]> => (await http('GET', `/api/v1/operator/audit?${new URLSearchParams({ command: 'payments.refund', orgId })}`, { token: gateway.operatorToken('auditor') })).body.entries;
    const reversals = async (orgId: string) => (await ledger(orgId)).filter((e) => e.type === 'reversal').map((e) => [e.idempotencyKey, e.amount]);

    async function paidStripe(orgId: string, amount: string) {
      const topup = (await start(orgId, { amount, currency: 'USD', provider: 'stripe' })).body.topup;
      expect((await stripe.pay(topup.stripe.paymentIntentId)).body.outcome).toBe('credited');
      return topup;
    }

    it('refunds a Stripe top-up in part, then the rest: Stripe is called, the ledger reversed by each, idempotent, audited', async () => {
      const o = org('refund-stripe');
      const topup = await paidStripe(o, '100.00');
      const first = await refund(topup.id, { amount: '30.00', reason: 'goodwill: outage on 2026-12-01' }, { key: `k1-${tag}` });
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ ok: true, replayed: false, refund: { topupId: topup.id, amount: '30.00', currency: 'USD', status: 'succeeded', providerRefundId: expect.stringMatching(/^re_/), operator: `refunder-${tag}` }, topup: { status: 'partially_refunded', refunded: '30.00' } });
      const stripeRefunds = () => stripe.refunds.filter((r) => r.payment_intent === topup.stripe.paymentIntentId);
      expect(stripeRefunds().map((r) => r.amount)).toEqual([3000]);
      expect(stripe.requestsTo(/^POST \/v1\/refunds$/).at(-1)!.headers['idempotency-key']).toBe(`refund-${first.body.refund.id}`);
      expect(await reversals(o)).toEqual([[`reverse:${topup.id}:2`, '-30']]);
      expect(await balance(o)).toMatchObject({ total: '70.00' });

      // The same request again: the first refund, nothing more at Stripe or in the ledger.
      const again = await refund(topup.id, { amount: '30.00', reason: 'goodwill: outage on 2026-12-01' }, { key: `k1-${tag}` });
      expect([again.status, again.headers.get('idempotent-replayed'), again.body.refund.id, again.body.replayed]).toEqual([200, 'true', first.body.refund.id, true]);
      // The key for another refund, more than is left, a key in the body too.
      expect((await refund(topup.id, { amount: '40.00', reason: 'goodwill: outage on 2026-12-01' }, { key: `k1-${tag}` })).body.error.code).toBe('IDEMPOTENCY_CONFLICT');
      const calls = stripe.requests.length;
      expect(await refund(topup.id, { amount: '70.01', reason: 'too much', idempotencyKey: `k2-${tag}` })).toMatchObject({ status: 409, body: { error: { code: 'REFUND_EXCEEDS_REMAINING', message: 'at most 70.00 USD is left to refund' } } });
      expect(stripe.requests.length).toBe(calls);

      const rest = await refund(topup.id, { reason: 'account closed' }, { key: `k3-${tag}` });
      expect(rest).toMatchObject({ status: 201, body: { refund: { amount: '70.00' }, topup: { status: 'refunded', refunded: '100.00' } } });
      expect(await refund(topup.id, { reason: 'again' }, { key: `k4-${tag}` })).toMatchObject({ status: 409, body: { error: { code: 'NOT_REFUNDABLE' } } });
      expect(stripeRefunds().map((r) => r.amount)).toEqual([3000, 7000]);
      // Stripe's charge.refunded webhooks (its cumulative totals) arrive too: still one reversal per refund.
      await new Promise((r) => setTimeout(r, 500));
      expect(await reversals(o)).toEqual([[`reverse:${topup.id}:2`, '-30'], [`reverse:${topup.id}:3`, '-70']]);
      expect(await balance(o)).toMatchObject({ total: '0.00' });

      const entries = await audit(o);
      expect(entries.map((e) => e.outcome).reverse()).toEqual(['ok', 'ok', 'IDEMPOTENCY_CONFLICT', 'REFUND_EXCEEDS_REMAINING', 'ok', 'NOT_REFUNDABLE']);
      expect(entries.at(-1)).toMatchObject({ operator: `refunder-${tag}`, via: 'http', command: 'payments.refund', orgId: o, params: { topupId: topup.id, amount: '30.00', reason: 'goodwill: outage on 2026-12-01', idempotencyKeyHeader: `k1-${tag}` }, detail: { refundId: first.body.refund.id, amount: '30.00', replayed: false } });
      expect(entries.at(-2)).toMatchObject({ detail: { refundId: first.body.refund.id, replayed: true } });
    });

    it('refunds a PayPal capture in part and a VNPAY payment in full, each reversed once', async () => {
      const o = org('refund-paypal');
      const topup = (await start(o, { amount: '50.00', currency: 'USD', provider: 'paypal' })).body.topup;
      expect((await paypal.approve(topup.paypal.orderId)).webhook).toMatchObject({ status: 200, body: { capture: 'captured' } });
      const res = await refund(topup.id, { amount: '20.00', reason: 'duplicate order', idempotencyKey: `pp-${tag}` });
      expect(res).toMatchObject({ status: 201, body: { refund: { amount: '20.00', providerStatus: 'COMPLETED' }, topup: { status: 'partially_refunded' } } });
      const capture = [...paypal.captures.values()].find((c) => c.orderId === topup.paypal.orderId)!;
      expect(capture.refunded).toBe(20);
      expect(paypal.requestsTo(new RegExp(`^POST /v2/payments/captures/${capture.id}/refund$`)).map((r) => [r.headers['paypal-request-id'], JSON.parse(r.body).amount])).toEqual([[`refund-${res.body.refund.id}`, { value: '20.00', currency_code: 'USD' }]]);
      // PayPal's PAYMENT.CAPTURE.REFUNDED for the same refund follows: the same refund, not another.
      await new Promise((r) => setTimeout(r, 500));
      expect(await reversals(o)).toEqual([[`reverse:${topup.id}:2`, '-20']]);

      const v = org('refund-vnpay');
      const paid = (await start(v, { amount: '200000', currency: 'VND', provider: 'vnpay' })).body.topup;
      expect((await fetch(paid.vnpay.paymentUrl)).status).toBe(200);
      expect((await vnpay.pay(paid.providerRef)).ipn.body.RspCode).toBe('00');
      const full = await refund(paid.id, { reason: 'customer request approved by support' }, { key: `vn-${tag}` });
      expect(full).toMatchObject({ status: 201, body: { refund: { amount: '200000', currency: 'VND' }, topup: { status: 'refunded' } } });
      const sent = vnpay.requestsTo(/^POST \/merchant_webapi\/api\/transaction$/).map((r) => JSON.parse(r.body)).filter((b) => b.vnp_Command === 'refund' && b.vnp_TxnRef === paid.providerRef);
      expect(sent.map((b) => [b.vnp_TransactionType, b.vnp_Amount, b.vnp_CreateBy, b.vnp_TransactionDate])).toEqual([['02', '20000000', `refunder-${tag}`, new URL(paid.vnpay.paymentUrl).searchParams.get('vnp_CreateDate')]]);
      expect(await reversals(v)).toEqual([[`reverse:${paid.id}:2`, '-200000']]);
    });

    it("is resumed under its key after the provider could not be asked, and made once (the first answer lost)", async () => {
      const o = org('refund-resume');
      const topup = await paidStripe(o, '25.00');
      stripe.failNext(3, 503, { match: /^POST \/v1\/refunds$/ });
      const down = await refund(topup.id, { amount: '5.00', reason: 'resume me' }, { key: `r-${tag}` });
      expect(down).toMatchObject({ status: 503, body: { error: { code: 'UNAVAILABLE' } } });
      expect(await reversals(o)).toEqual([]);
      // Stripe takes the next one, and its answer is lost on the way back.
      stripe.stallNext(1, 3_000, { process: true, match: /^POST \/v1\/refunds$/ });
      const resumed = await refund(topup.id, { amount: '5.00', reason: 'resume me' }, { key: `r-${tag}` });
      expect(resumed).toMatchObject({ status: 201, body: { replayed: false, refund: { amount: '5.00', status: 'succeeded' } } });
      expect(stripe.refunds.filter((r) => r.payment_intent === topup.stripe.paymentIntentId)).toHaveLength(1);
      expect(await reversals(o)).toEqual([[`reverse:${topup.id}:2`, '-5']]);
      expect((await audit(o)).map((e) => e.outcome).reverse()).toEqual(['UNAVAILABLE', 'ok']);
    });

    it('refuses what cannot be refunded, bad input, and anyone but an operator; nothing moves', async () => {
      const o = org('refund-refused');
      const pending = (await start(o, { amount: '9.00', currency: 'USD', provider: 'stripe' })).body.topup;
      const paid = await paidStripe(o, '8.00');
      const calls = providerCalls();
      expect(await refund(pending.id, { reason: 'x' }, { key: 'p-1' })).toMatchObject({ status: 409, body: { error: { code: 'NOT_REFUNDABLE', message: 'the top-up is pending: nothing was captured, there is nothing to refund' } } });
      expect(await refund('0b6f2c1e-6a38-4c6e-9d3f-2f1d3c4b5a69', { reason: 'x' }, { key: 'p-2' })).toMatchObject({ status: 404, body: { error: { code: 'UNKNOWN_TOPUP' } } });
      const bad: [string, unknown, string | undefined, string][] = [
        ['not-a-uuid', { reason: 'x' }, 'k', 'INVALID_FIELD'],
        [paid.id, { reason: 'x' }, undefined, 'MISSING_FIELD'],
        [paid.id, { reason: 'x' }, 'two words', 'INVALID_FIELD'],
        [paid.id, { reason: 'x', idempotencyKey: 'a' }, 'b', 'INVALID_FIELD'],
        [paid.id, {}, 'k', 'MISSING_FIELD'],
        [paid.id, { reason: 7 }, 'k', 'INVALID_FIELD'],
        [paid.id, { reason: 'x', amount: 5 }, 'k', 'INVALID_AMOUNT'],
        [paid.id, { reason: 'x', amount: '-5' }, 'k', 'INVALID_AMOUNT'],
        [paid.id, { reason: 'x', amount: '1.001' }, 'k-dec', 'TOO_MANY_DECIMALS'],
        [paid.id, { reason: 'x', amount: '1e3' }, 'k', 'INVALID_AMOUNT'],
        [paid.id, [1, 2], 'k', 'MALFORMED_JSON'],
      ];
      for (const [id, body, key, code] of bad) {
        const res = await refund(id, body, { key });
        expect([JSON.stringify(body), key, res.status, res.body.error?.code]).toEqual([JSON.stringify(body), key, 400, code]);
      }
      // Not JSON at all: refused by the body parser, 400.
      for (const raw of ['{', 'null', '"text"']) expect((await refund(paid.id, raw, { key: 'k' })).status).toBe(400);
      expect((await refund(paid.id, { reason: 'x' }, { key: 'o-1', token: gateway.token(o) })).status).toBe(403);
      expect((await http('POST', `/api/v1/operator/topups/${paid.id}/refunds`, { body: { reason: 'x' }, headers: { 'idempotency-key': 'o-2' } })).status).toBe(401);
      expect(providerCalls()).toBe(calls);
      expect(await reversals(o)).toEqual([]);
      expect(await sql('select count(*)::int as n from topup_refunds r join topup_intents t on t.id = r.topup_id where t.org_id = $1', [o])).toEqual([{ n: 0 }]);
    });
  });

  describe('the database out of reach', () => {
    let proxy: TcpProxy;
    let cut: TestGateway;

    beforeAll(async () => {
      proxy = await TcpProxy.start(testDatabaseUrl());
      // A gateway whose database is behind a proxy this test cuts; the engine keeps its own.
      cut = await startGateway(engine.config.subjectPrefix, { ...settings, DATABASE_URL: proxy.url });
    });

    afterAll(async () => {
      stripe.webhookUrl = `${gateway.url}/webhooks/stripe`;
      vnpay.ipnUrl = `${gateway.url}/webhooks/vnpay/ipn`;
      await cut?.stop();
      await proxy?.close();
    });

    it('refuses to start a top-up with 503 and calls no provider; webhooks are answered so that the provider delivers them again, and the redelivery credits once', async () => {
      const o = org('db-down');
      const topup = (await http('POST', '/api/v1/topups', { token: cut.token(o), body: { amount: '21.00', currency: 'USD', provider: 'stripe' }, to: cut })).body.topup;
      const vnd = (await http('POST', '/api/v1/topups', { token: cut.token(`${o}-vnd`), body: { amount: '210000', currency: 'VND', provider: 'vnpay' }, to: cut })).body.topup;
      expect((await fetch(vnd.vnpay.paymentUrl)).status).toBe(200);
      stripe.webhookUrl = `${cut.url}/webhooks/stripe`;
      vnpay.ipnUrl = `${cut.url}/webhooks/vnpay/ipn`;

      proxy.cut('refuse');
      const calls = providerCalls();
      const refused = await http('POST', '/api/v1/topups', { token: cut.token(o), body: { amount: '22.00', currency: 'USD', provider: 'stripe' }, to: cut });
      expect(refused).toMatchObject({ status: 503, body: { ok: false, error: { code: 'UNAVAILABLE', message: 'top-ups cannot be recorded now; nothing was started, try again' } } });
      expect(providerCalls()).toBe(calls);
      expect(await stripe.pay(topup.stripe.paymentIntentId)).toEqual({ status: 503, body: { received: false, error: 'the event could not be handled now; deliver it again later' } });
      expect((await vnpay.pay(vnd.providerRef)).ipn.body).toEqual({ RspCode: '99', Message: 'Unknown error' });
      expect((await row(topup.id)).status).toBe('pending');
      expect(await ledger(o)).toEqual([]);

      proxy.restore();
      // Stripe and VNPAY deliver again (VNPAY retries an IPN answered 99).
      expect((await stripe.sendEvent('payment_intent.succeeded', stripe.paymentIntents.get(topup.stripe.paymentIntentId))).body.outcome).toBe('credited');
      expect((await vnpay.pay(vnd.providerRef)).ipn.body.RspCode).toBe('00');
      expect((await ledger(o)).map((e) => [e.type, e.idempotencyKey])).toEqual([['topup', `topup:${topup.id}`]]);
      expect(await balance(`${o}-vnd`)).toMatchObject({ total: '210000' });
      expect(await rows(o)).toHaveLength(1);
    });
  });
});
