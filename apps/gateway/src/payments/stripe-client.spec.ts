import { Logger } from '@nestjs/common';
import { FakeStripe, parseStripeForm } from '../../../../test/support/fake-stripe';
import { ProviderCallPolicy, ProviderError } from './provider-call';
import { StripeApiClient } from './stripe-client';

/** The official SDK against a local Stripe speaking Stripe's wire format (test/support/fake-stripe.ts). */
const KEY = 'sk_test_unit_0123456789';
const POLICY: ProviderCallPolicy = { timeoutMs: 500, maxRetries: 2, retryBaseMs: 10, maxRetryDelayMs: 2000 };

describe('StripeApiClient against a local Stripe', () => {
  let stripe: FakeStripe;
  let client: StripeApiClient;
  let n = 0;
  const topupId = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
  const create = (id: string, amountMinor = '1050') => client.createPaymentIntent({ topupId: id, orgId: 'org-1', amountMinor, currency: 'USD' });
  const creates = () => stripe.requestsTo(/^POST \/v1\/payment_intents$/);

  beforeAll(async () => {
    if (!process.env.TEST_LOGS) Logger.overrideLogger(false);
    stripe = await new FakeStripe({ secretKey: KEY, webhookSecret: 'whsec_unit' }).start();
    client = new StripeApiClient({ secretKey: KEY, apiBaseUrl: stripe.url, policy: POLICY });
  });

  afterAll(() => stripe.stop());
  afterEach(() => stripe.clearFaults());

  it('creates a PaymentIntent: form-encoded, the secret key as bearer, amount in minor units, our top-up id as Idempotency-Key and metadata', async () => {
    const id = topupId();
    const before = creates().length;
    const intent = await create(id);
    expect(intent).toMatchObject({ id: expect.stringMatching(/^pi_/), clientSecret: expect.stringMatching(/_secret_/), status: 'requires_payment_method', amountMinor: '1050', currency: 'USD', topupId: id });
    const sent = creates().slice(before)[0];
    expect(sent.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(sent.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(sent.headers['idempotency-key']).toBe(id);
    expect(parseStripeForm(sent.body)).toMatchObject({ amount: '1050', currency: 'usd', metadata: { topupId: id, orgId: 'org-1' }, automatic_payment_methods: { enabled: 'true' } });
  });

  it('gets the same PaymentIntent back when the same top-up is created again (Stripe replays the key)', async () => {
    const id = topupId();
    const first = await create(id);
    const again = await create(id);
    expect(again.id).toBe(first.id);
    expect([...stripe.paymentIntents.values()].filter((pi) => pi.metadata.topupId === id)).toHaveLength(1);
  });

  it('retries a 500 and a 429, waiting the Retry-After Stripe gives', async () => {
    const before = creates().length;
    stripe.failNext(1, 500, { match: /payment_intents/ });
    stripe.failNext(1, 429, { retryAfter: '1', match: /payment_intents/ });
    const started = Date.now();
    const intent = await create(topupId());
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(intent.id).toMatch(/^pi_/);
    expect(creates().length - before).toBe(3);
  });

  it('retries after a timeout whose request went through, and Stripe replays the first PaymentIntent: one payment', async () => {
    const id = topupId();
    const before = creates().length;
    stripe.stallNext(1, 2_000, { process: true, match: /payment_intents/ });
    const intent = await create(id);
    expect(creates().length - before).toBeGreaterThanOrEqual(2);
    expect([...stripe.paymentIntents.values()].filter((pi) => pi.metadata.topupId === id).map((pi) => pi.id)).toEqual([intent.id]);
  });

  it('gives up as unavailable when Stripe answers 503 to every attempt', async () => {
    const before = creates().length;
    stripe.failNext(POLICY.maxRetries + 1, 503, { match: /payment_intents/ });
    await expect(create(topupId())).rejects.toMatchObject({ provider: 'stripe', kind: 'unavailable', details: { status: 503 } });
    expect(creates().length - before).toBe(POLICY.maxRetries + 1);
  });

  it('gives up as unavailable when no attempt is answered in time', async () => {
    stripe.stallNext(10, 2_000, { match: /payment_intents/ });
    const started = Date.now();
    await expect(create(topupId())).rejects.toMatchObject({ kind: 'unavailable' });
    expect(Date.now() - started).toBeLessThan(POLICY.timeoutMs * 6 + 1000);
    stripe.clearFaults();
  });

  it('refuses without retrying: a card decline, a bad key, a 429 asking to wait past the cap', async () => {
    stripe.declineNext();
    let before = creates().length;
    await expect(create(topupId())).rejects.toMatchObject({ kind: 'declined', details: { status: 402, code: 'card_declined' } });
    expect(creates().length - before).toBe(1);

    const wrongKey = new StripeApiClient({ secretKey: 'sk_test_not_the_key', apiBaseUrl: stripe.url, policy: POLICY });
    before = creates().length;
    await expect(wrongKey.createPaymentIntent({ topupId: topupId(), orgId: 'o', amountMinor: '100', currency: 'USD' })).rejects.toMatchObject({ kind: 'unauthorized', details: { status: 401 } });
    expect(creates().length - before).toBe(1);

    stripe.failNext(1, 429, { retryAfter: '30', match: /payment_intents/ });
    before = creates().length;
    await expect(create(topupId())).rejects.toMatchObject({ kind: 'rate_limited' });
    expect(creates().length - before).toBe(1);
  });

  it('refuses reusing a key with other parameters (Stripe idempotency_error)', async () => {
    const id = topupId();
    await create(id, '1000');
    await expect(create(id, '2000')).rejects.toMatchObject({ kind: 'conflict', details: { status: 400 } });
  });

  it('retrieves a PaymentIntent, and an unknown one is invalid', async () => {
    const intent = await create(topupId());
    await stripe.pay(intent.id).catch(() => undefined);
    expect(await client.retrievePaymentIntent(intent.id)).toMatchObject({ id: intent.id, status: 'succeeded', amountReceivedMinor: '1050', latestChargeId: expect.stringMatching(/^ch_/) });
    await expect(client.retrievePaymentIntent('pi_missing')).rejects.toMatchObject({ kind: 'invalid', details: { status: 404, code: 'resource_missing' } });
  });

  it('refunds part, then the rest; more than is left, or an unpaid PaymentIntent, is refused; a repeated key refunds once', async () => {
    const intent = await create(topupId(), '5000');
    await expect(client.refund({ paymentIntentId: intent.id, idempotencyKey: 'refund-unpaid' })).rejects.toMatchObject({ kind: 'invalid', details: { code: 'charge_not_refundable' } });
    await stripe.pay(intent.id).catch(() => undefined);
    const part = await client.refund({ paymentIntentId: intent.id, amountMinor: '2000', idempotencyKey: `r1-${intent.id}`, reason: 'operator' });
    expect(part).toMatchObject({ id: expect.stringMatching(/^re_/), status: 'succeeded', amountMinor: '2000', paymentIntentId: intent.id });
    const repeat = await client.refund({ paymentIntentId: intent.id, amountMinor: '2000', idempotencyKey: `r1-${intent.id}`, reason: 'operator' });
    expect(repeat.id).toBe(part.id);
    await expect(client.refund({ paymentIntentId: intent.id, amountMinor: '4000', idempotencyKey: `r2-${intent.id}` })).rejects.toMatchObject({ kind: 'invalid', details: { code: 'amount_too_large' } });
    const rest = await client.refund({ paymentIntentId: intent.id, idempotencyKey: `r3-${intent.id}` });
    expect(rest.amountMinor).toBe('3000');
    expect(stripe.refunds.filter((r) => r.payment_intent === intent.id).map((r) => r.amount)).toEqual([2000, 3000]);
  });

  it('is a ProviderError, never the SDK\'s error, that reaches the caller', async () => {
    await expect(client.retrievePaymentIntent('pi_nope')).rejects.toBeInstanceOf(ProviderError);
  });
});
