import { Logger } from '@nestjs/common';
import { Decimal } from '@billing/domain';
import { FakePayPal } from '../../../../test/support/fake-paypal';
import { readPaypalHeaders } from './paypal';
import { PayPalApiClient, PayPalApiSettings } from './paypal-client';
import { ProviderCallPolicy } from './provider-call';

/** The PayPal client against a local PayPal speaking PayPal's wire format (test/support/fake-paypal.ts). */
const POLICY: ProviderCallPolicy = { timeoutMs: 500, maxRetries: 2, retryBaseMs: 10, maxRetryDelayMs: 2000 };
const CREDENTIALS = { clientId: 'AUnitClientId', clientSecret: 'EUnitClientSecret' };

describe('PayPalApiClient against a local PayPal', () => {
  let paypal: FakePayPal;
  let settings: PayPalApiSettings;
  let client: PayPalApiClient;
  let n = 0;
  const topupId = () => `10000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;

  beforeAll(async () => {
    if (!process.env.TEST_LOGS) Logger.overrideLogger(false);
    paypal = await new FakePayPal({ ...CREDENTIALS, webhookId: 'WH-UNIT-1' }).start();
    settings = { ...CREDENTIALS, apiBaseUrl: paypal.url, returnUrl: 'https://portal.test/payments/paypal/return', cancelUrl: 'https://portal.test/payments/paypal/return?cancelled=1', brandName: 'GPU Cloud', policy: POLICY };
    client = new PayPalApiClient(settings);
  });

  afterAll(() => paypal.stop());
  afterEach(() => paypal.clearFaults());

  it('asks for a token with Basic auth and the client-credentials grant once, and calls with it as bearer', async () => {
    const fresh = new PayPalApiClient(settings);
    const issued = paypal.tokensIssued;
    await Promise.all([fresh.createOrder({ topupId: topupId(), amount: new Decimal('1.00'), currency: 'USD' }), fresh.createOrder({ topupId: topupId(), amount: new Decimal('2.00'), currency: 'USD' })]);
    await fresh.createOrder({ topupId: topupId(), amount: new Decimal('3.00'), currency: 'USD' });
    expect(paypal.tokensIssued - issued).toBe(1);
    const tokenRequest = paypal.requestsTo(/^POST \/v1\/oauth2\/token$/).at(-1)!;
    expect(tokenRequest.headers.authorization).toBe(`Basic ${Buffer.from('AUnitClientId:EUnitClientSecret').toString('base64')}`);
    expect(tokenRequest.body).toBe('grant_type=client_credentials');
    expect(paypal.requestsTo(/^POST \/v2\/checkout\/orders$/).at(-1)!.headers.authorization).toMatch(/^Bearer A21AA/);
  });

  it('replaces the token before it expires, and once more when PayPal refuses it (401)', async () => {
    let now = Date.now();
    const shortLived = await new FakePayPal({ ...CREDENTIALS, webhookId: 'WH-UNIT-2', tokenLifetimeSeconds: 600 }).start();
    try {
      const c = new PayPalApiClient({ ...settings, apiBaseUrl: shortLived.url }, fetch, () => now);
      await c.createOrder({ topupId: topupId(), amount: new Decimal('1.00'), currency: 'USD' });
      now += 4 * 60_000;
      await c.createOrder({ topupId: topupId(), amount: new Decimal('1.00'), currency: 'USD' });
      expect(shortLived.tokensIssued).toBe(1);
      // 600 s tokens are replaced 300 s before they expire (half their life at most).
      now += 2 * 60_000;
      await c.createOrder({ topupId: topupId(), amount: new Decimal('1.00'), currency: 'USD' });
      expect(shortLived.tokensIssued).toBe(2);
      shortLived.revokeTokens();
      await c.createOrder({ topupId: topupId(), amount: new Decimal('1.00'), currency: 'USD' });
      expect(shortLived.tokensIssued).toBe(3);
    } finally {
      await shortLived.stop();
    }
  });

  it('creates an order with intent CAPTURE, our id as custom_id and PayPal-Request-Id, amounts as PayPal writes them, and the buyer\'s way back', async () => {
    const id = topupId();
    const order = await client.createOrder({ topupId: id, amount: new Decimal('25.5'), currency: 'USD' });
    expect(order).toEqual({ orderId: expect.stringMatching(/^[A-Z0-9]{17}$/), approveUrl: expect.stringContaining(`token=${order.orderId}`) });
    const sent = paypal.requestsTo(/^POST \/v2\/checkout\/orders$/).at(-1)!;
    expect(sent.headers['paypal-request-id']).toBe(id);
    expect(sent.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent.body)).toMatchObject({
      intent: 'CAPTURE',
      purchase_units: [{ custom_id: id, reference_id: id, amount: { currency_code: 'USD', value: '25.50' } }],
      payment_source: { paypal: { experience_context: { return_url: settings.returnUrl, cancel_url: settings.cancelUrl, user_action: 'PAY_NOW' } } },
    });
    await client.createOrder({ topupId: topupId(), amount: new Decimal('380'), currency: 'JPY' });
    expect(JSON.parse(paypal.requestsTo(/^POST \/v2\/checkout\/orders$/).at(-1)!.body).purchase_units[0].amount).toEqual({ currency_code: 'JPY', value: '380' });
  });

  it('gets the same order back when the same top-up is created again, and after an answer lost to a timeout', async () => {
    const id = topupId();
    const first = await client.createOrder({ topupId: id, amount: new Decimal('5.00'), currency: 'USD' });
    expect((await client.createOrder({ topupId: id, amount: new Decimal('5.00'), currency: 'USD' })).orderId).toBe(first.orderId);
    const lost = topupId();
    paypal.stallNext(1, 2_000, { process: true, match: /^POST \/v2\/checkout\/orders$/ });
    const order = await client.createOrder({ topupId: lost, amount: new Decimal('5.00'), currency: 'USD' });
    expect([...paypal.orders.values()].filter((o) => o.purchase_units[0].custom_id === lost).map((o) => o.id)).toEqual([order.orderId]);
  });

  it('retries 503 and 429 (after the Retry-After), and gives up when every attempt fails', async () => {
    paypal.failNext(1, 503, { match: /checkout\/orders/ });
    paypal.failNext(1, 429, { retryAfter: '1', match: /checkout\/orders/ });
    const started = Date.now();
    await client.createOrder({ topupId: topupId(), amount: new Decimal('1.00'), currency: 'USD' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    paypal.failNext(POLICY.maxRetries + 1, 500, { match: /checkout\/orders/ });
    await expect(client.createOrder({ topupId: topupId(), amount: new Decimal('1.00'), currency: 'USD' })).rejects.toMatchObject({ provider: 'paypal', kind: 'unavailable', details: { status: 500, code: 'INTERNAL_SERVER_ERROR' } });
    paypal.stallNext(POLICY.maxRetries + 1, 2_000, { match: /checkout\/orders/ });
    await expect(client.createOrder({ topupId: topupId(), amount: new Decimal('1.00'), currency: 'USD' })).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('captures only an approved order, once; a repeated capture request gets the first capture back', async () => {
    const id = topupId();
    const { orderId } = await client.createOrder({ topupId: id, amount: new Decimal('12.00'), currency: 'USD' });
    await expect(client.captureOrder(orderId, `capture:${id}`)).rejects.toMatchObject({ kind: 'invalid', details: { status: 422, code: 'ORDER_NOT_APPROVED' } });
    await paypal.approve(orderId, { webhook: false });
    const captured = await client.captureOrder(orderId, `capture:${id}:2`);
    expect(captured).toMatchObject({ id: orderId, status: 'COMPLETED', topupId: id, captures: [{ status: 'COMPLETED', topupId: id }] });
    expect(captured.captures[0].amount!.toFixed(2)).toBe('12.00');
    expect((await client.captureOrder(orderId, `capture:${id}:2`)).captures[0].id).toBe(captured.captures[0].id);
    await expect(client.captureOrder(orderId, `capture:${id}:3`)).rejects.toMatchObject({ details: { code: 'ORDER_ALREADY_CAPTURED' } });
    expect(await client.getOrder(orderId)).toMatchObject({ status: 'COMPLETED', captures: [{ id: captured.captures[0].id }] });
    expect([...paypal.captures.values()].filter((c) => c.orderId === orderId)).toHaveLength(1);
  });

  it('reports a declined instrument as declined, without retrying', async () => {
    const id = topupId();
    const { orderId } = await client.createOrder({ topupId: id, amount: new Decimal('9.00'), currency: 'USD' });
    await paypal.approve(orderId, { webhook: false, declineCapture: true });
    const before = paypal.requestsTo(/capture$/).length;
    await expect(client.captureOrder(orderId, `capture:${id}`)).rejects.toMatchObject({ kind: 'declined', details: { status: 422, code: 'INSTRUMENT_DECLINED' } });
    expect(paypal.requestsTo(/capture$/).length - before).toBe(1);
  });

  it('refunds part of a capture, then the rest; more than is left is refused', async () => {
    const id = topupId();
    const { orderId } = await client.createOrder({ topupId: id, amount: new Decimal('10.00'), currency: 'USD' });
    await paypal.approve(orderId, { webhook: false });
    const captureId = (await client.captureOrder(orderId, `capture:${id}`)).captures[0].id;
    const part = await client.refundCapture({ captureId, amount: new Decimal('4'), currency: 'USD', requestId: `refund:${id}:1` });
    expect(part).toMatchObject({ status: 'COMPLETED', currency: 'USD', captureId });
    expect(part.amount!.toFixed(2)).toBe('4.00');
    expect(JSON.parse(paypal.requestsTo(/refund$/).at(-1)!.body)).toEqual({ amount: { value: '4.00', currency_code: 'USD' } });
    await expect(client.refundCapture({ captureId, amount: new Decimal('7'), currency: 'USD', requestId: `refund:${id}:2` })).rejects.toMatchObject({ kind: 'invalid', details: { code: 'REFUND_AMOUNT_EXCEEDED' } });
    expect((await client.refundCapture({ captureId, currency: 'USD', requestId: `refund:${id}:3` })).amount!.toFixed(2)).toBe('6.00');
    await expect(client.refundCapture({ captureId, currency: 'USD', requestId: `refund:${id}:4` })).rejects.toMatchObject({ details: { code: 'CAPTURE_FULLY_REFUNDED' } });
  });

  it('asks PayPal to verify a webhook, sending the event\'s exact bytes', async () => {
    const event = paypal.signedEvent('PAYMENT.CAPTURE.COMPLETED', { id: 'CAP1', amount: { currency_code: 'USD', value: '1.00' } });
    const transmission = readPaypalHeaders(event.headers)!;
    expect(await client.verifyWebhookSignature({ transmission, webhookId: 'WH-UNIT-1', rawBody: Buffer.from(event.payload) })).toBe(true);
    expect(await client.verifyWebhookSignature({ transmission, webhookId: 'WH-SOMEONE-ELSE', rawBody: Buffer.from(event.payload) })).toBe(false);
    expect(await client.verifyWebhookSignature({ transmission, webhookId: 'WH-UNIT-1', rawBody: Buffer.from(event.payload.replace('1.00', '9.00')) })).toBe(false);
  });

  it('refuses bad credentials as unauthorized, without retrying', async () => {
    const wrong = new PayPalApiClient({ ...settings, clientSecret: 'wrong' });
    const before = paypal.requestsTo(/oauth2/).length;
    await expect(wrong.getOrder('ABC')).rejects.toMatchObject({ kind: 'unauthorized', details: { status: 401, code: 'invalid_client' } });
    expect(paypal.requestsTo(/oauth2/).length - before).toBe(1);
  });
});
