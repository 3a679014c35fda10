import { sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { FakeProviders } from './support/fake-providers';
import { startGateway, TestGateway } from './support/gateway';
import { eventually } from './support/lifecycle';

/**
 * The gateway with its real provider clients (the `stripe` SDK; PayPal and VNPAY over HTTP),
 * pointed at local fakes of Stripe, PayPal and VNPAY that speak each provider's wire format
 * (test/support/fake-*.ts), the real engine, PostgreSQL and NATS. A top-up is started over the
 * HTTP API, the fake plays the payer, and the webhook the fake sends, signed as its provider
 * signs, credits the wallet through the engine. Nothing leaves the machine.
 */
describe('payment providers: the real clients against local fakes of Stripe, PayPal and VNPAY', () => {
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;
  const providers = new FakeProviders('providers');
  const { stripe, paypal, vnpay } = providers;

  beforeAll(async () => {
    await providers.start();
    engine = await startEngine();
    // PayPal itself checks each webhook (its verify-webhook-signature API, played by the fake).
    gateway = await startGateway(engine.config.subjectPrefix, providers.gatewayEnv());
    providers.deliverTo(gateway.url);
    // The return URL PayPal sends the buyer to is the gateway's own.
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
  });

  async function startTopup(org: string, body: object): Promise<{ status: number; body: any }> {
    const res = await fetch(`${gateway.url}/api/v1/topups`, { method: 'POST', headers: { authorization: `Bearer ${gateway.token(org)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  }
  const balance = async (org: string) => (await client.request(org, 'balance')).balance;
  const topupEntries = async (org: string): Promise<any[]> => (await client.request(org, 'ledger', { cursor: 0, limit: 500 })).entries.filter((e: any) => e.type === 'topup');
  const rows = (org: string) => sql('select id, status, provider_ref from topup_intents where org_id = $1', [org]);
  const credited = (org: string, total: string) => eventually(() => balance(org), (b) => b.total === total, 20_000);

  describe('Stripe (the official SDK)', () => {
    it('creates the PaymentIntent at Stripe, and the signed payment_intent.succeeded credits it', async () => {
      const org = 'prov-stripe';
      const started = await startTopup(org, { amount: '42.50', currency: 'USD', provider: 'stripe' });
      expect(started.status).toBe(201);
      const topup = started.body.topup;
      const pi = stripe.paymentIntents.get(topup.stripe.paymentIntentId)!;
      expect(pi).toMatchObject({ amount: 4250, currency: 'usd', metadata: { topupId: topup.id, orgId: org }, client_secret: topup.stripe.clientSecret });
      expect(stripe.requestsTo(/^POST \/v1\/payment_intents$/).at(-1)!.headers['idempotency-key']).toBe(topup.id);
      const delivered = await stripe.pay(pi.id);
      expect(delivered.status).toBe(200);
      expect(await credited(org, '42.50')).toMatchObject({ currency: 'USD' });
      expect(await topupEntries(org)).toHaveLength(1);
    });

    it('credits nothing for a declined attempt', async () => {
      const org = 'prov-stripe-declined';
      const topup = (await startTopup(org, { amount: '10.00', currency: 'USD', provider: 'stripe' })).body.topup;
      expect((await stripe.pay(topup.stripe.paymentIntentId, 'declined')).status).toBe(200);
      expect(await topupEntries(org)).toHaveLength(0);
      expect((await rows(org))[0].status).not.toBe('succeeded');
    });

    it('rides out a 503 and a 429 while starting; gives the browser a clear 503 and records nothing when Stripe stays down', async () => {
      const org = 'prov-stripe-down';
      stripe.failNext(1, 503, { match: /payment_intents/ });
      stripe.failNext(1, 429, { retryAfter: '1', match: /payment_intents/ });
      expect((await startTopup(org, { amount: '5.00', currency: 'USD', provider: 'stripe' })).status).toBe(201);
      stripe.failNext(3, 503, { match: /payment_intents/ });
      const refused = await startTopup(org, { amount: '6.00', currency: 'USD', provider: 'stripe' });
      expect(refused.status).toBe(503);
      expect(refused.body.error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/^stripe did not start the payment/) });
      stripe.stallNext(3, 5_000, { match: /payment_intents/ });
      expect((await startTopup(org, { amount: '7.00', currency: 'USD', provider: 'stripe' })).status).toBe(503);
      // Only the top-up that started is recorded: no half-made top-up.
      expect(await rows(org)).toHaveLength(1);
    });
  });

  describe('PayPal (Orders v2 over HTTPS)', () => {
    it('creates the order, captures it when PayPal says the buyer approved, and the capture webhook credits it', async () => {
      const org = 'prov-paypal-webhook';
      const started = await startTopup(org, { amount: '19.99', currency: 'USD', provider: 'paypal' });
      expect(started.status).toBe(201);
      const topup = started.body.topup;
      expect(topup.paypal.approveUrl).toContain(`token=${topup.paypal.orderId}`);
      expect(paypal.orders.get(topup.paypal.orderId)!.purchase_units[0]).toMatchObject({ custom_id: topup.id, amount: { currency_code: 'USD', value: '19.99' } });
      const { webhook } = await paypal.approve(topup.paypal.orderId);
      expect(webhook).toMatchObject({ status: 200, body: { received: true, capture: 'captured' } });
      expect(await credited(org, '19.99')).toMatchObject({ currency: 'USD' });
      expect(paypal.requestsTo(new RegExp(`/v2/checkout/orders/${topup.paypal.orderId}/capture$`)).at(-1)!.headers['paypal-request-id']).toBe(`capture:${topup.id}`);
      expect(await topupEntries(org)).toHaveLength(1);
    });

    it('captures when the buyer comes back to the return URL, once, though PayPal also sends the approval', async () => {
      const org = 'prov-paypal-return';
      const topup = (await startTopup(org, { amount: '3000', currency: 'JPY', provider: 'paypal' })).body.topup;
      const { returnUrl } = await paypal.approve(topup.paypal.orderId, { webhook: false });
      expect(returnUrl.startsWith(`${new URL(returnUrl).origin}/payments/paypal/return?`)).toBe(true);
      // The browser follows PayPal's redirect to the gateway.
      const back = await fetch(`${gateway.url}${new URL(returnUrl).pathname}${new URL(returnUrl).search}`, { redirect: 'manual' });
      expect(back.status).toBe(303);
      expect(Object.fromEntries(new URL(back.headers.get('location')!, gateway.url).searchParams)).toEqual({ provider: 'paypal', result: 'captured', topup: topup.id });
      expect(await credited(org, '3000')).toMatchObject({ currency: 'JPY' });
      // The approval webhook arriving after the capture changes nothing.
      const late = await paypal.sendEvent('CHECKOUT.ORDER.APPROVED', { id: topup.paypal.orderId, status: 'APPROVED' });
      expect(late.status).toBe(200);
      expect([...paypal.captures.values()].filter((c) => c.orderId === topup.paypal.orderId)).toHaveLength(1);
      expect(await topupEntries(org)).toHaveLength(1);
    });

    it('captures nothing for an unknown order or a cancel, and a declined instrument credits nothing', async () => {
      const unknown = await fetch(`${gateway.url}/payments/paypal/return?token=NOSUCHORDER123456&PayerID=X`, { redirect: 'manual' });
      expect(new URL(unknown.headers.get('location')!, gateway.url).searchParams.get('result')).toBe('unknown_order');
      const cancel = await fetch(`${gateway.url}/payments/paypal/return?cancelled=1&token=ABC`, { redirect: 'manual' });
      expect(new URL(cancel.headers.get('location')!, gateway.url).searchParams.get('result')).toBe('cancelled');
      const org = 'prov-paypal-declined';
      const topup = (await startTopup(org, { amount: '8.00', currency: 'USD', provider: 'paypal' })).body.topup;
      const { webhook } = await paypal.approve(topup.paypal.orderId, { declineCapture: true });
      expect(webhook).toMatchObject({ status: 200, body: { capture: 'declined' } });
      expect(await topupEntries(org)).toHaveLength(0);
    });

    it('answers 503 to the approval while PayPal cannot capture, so PayPal delivers it again; the redelivery captures', async () => {
      const org = 'prov-paypal-retry';
      const topup = (await startTopup(org, { amount: '4.00', currency: 'USD', provider: 'paypal' })).body.topup;
      paypal.failNext(3, 503, { match: /\/capture$/ });
      const { webhook } = await paypal.approve(topup.paypal.orderId);
      expect(webhook!.status).toBe(503);
      const again = await paypal.sendEvent('CHECKOUT.ORDER.APPROVED', { id: topup.paypal.orderId, status: 'APPROVED' });
      expect(again).toMatchObject({ status: 200, body: { capture: 'captured' } });
      expect(await credited(org, '4.00')).toBeTruthy();
    });

    it('refuses a webhook PayPal\'s verify API does not vouch for', async () => {
      const event = paypal.signedEvent('PAYMENT.CAPTURE.COMPLETED', { id: 'CAPFORGED', amount: { currency_code: 'USD', value: '1000.00' } }, { webhookId: 'WH-SOMEONE-ELSE' });
      const res = await fetch(`${gateway.url}/webhooks/paypal`, { method: 'POST', headers: event.headers, body: event.payload });
      expect(res.status).toBe(400);
      expect(paypal.requestsTo(/verify-webhook-signature/).length).toBeGreaterThan(0);
    });
  });

  describe('VNPAY (payment URL, IPN)', () => {
    it('sends the browser to VNPAY with a signed URL, and VNPAY\'s signed IPN credits it', async () => {
      const org = 'prov-vnpay';
      const topup = (await startTopup(org, { amount: '250000', currency: 'VND', provider: 'vnpay' })).body.topup;
      expect(topup.vnpay.paymentUrl.startsWith(`${vnpay.payUrl}?`)).toBe(true);
      // The browser opens the payment page; the fake checks the signature as VNPAY does.
      expect(await (await fetch(topup.vnpay.paymentUrl)).text()).toContain(topup.providerRef);
      const { ipn } = await vnpay.pay(topup.providerRef);
      expect(ipn.body).toEqual({ RspCode: '00', Message: 'Confirm Success' });
      expect(await credited(org, '250000')).toMatchObject({ currency: 'VND' });
      expect(await topupEntries(org)).toHaveLength(1);
    });
  });
});
