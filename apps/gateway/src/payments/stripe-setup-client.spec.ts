import { Logger } from '@nestjs/common';
import { FakeStripe, parseStripeForm } from '../../../../test/support/fake-stripe';
import { ProviderCallPolicy, ProviderError } from './provider-call';
import { StripeApiClient } from './stripe-client';

/** The official SDK's customers and SetupIntents calls against the local Stripe (test/support/fake-stripe-setup.ts). */
const KEY = 'sk_test_unit_setup_0123456789';
const POLICY: ProviderCallPolicy = { timeoutMs: 500, maxRetries: 2, retryBaseMs: 10, maxRetryDelayMs: 2000 };

describe('StripeApiClient: customers and SetupIntents against a local Stripe', () => {
  let stripe: FakeStripe;
  let client: StripeApiClient;

  beforeAll(async () => {
    if (!process.env.TEST_LOGS) Logger.overrideLogger(false);
    stripe = await new FakeStripe({ secretKey: KEY, webhookSecret: 'whsec_unit' }).start();
    client = new StripeApiClient({ secretKey: KEY, apiBaseUrl: stripe.url, policy: POLICY });
  });

  afterAll(() => stripe.stop());

  it("creates a customer for the organization (metadata.orgId) under our key, and the same key gets the same customer back", async () => {
    const first = await client.createCustomer({ orgId: 'org-c', idempotencyKey: 'stripe-customer:org-c' });
    expect(first).toEqual({ id: expect.stringMatching(/^cus_/), deleted: false, orgId: 'org-c' });
    const sent = stripe.requestsTo(/^POST \/v1\/customers$/).at(-1)!;
    expect(sent.headers['idempotency-key']).toBe('stripe-customer:org-c');
    expect(parseStripeForm(sent.body)).toMatchObject({ metadata: { orgId: 'org-c' } });
    expect((await client.createCustomer({ orgId: 'org-c', idempotencyKey: 'stripe-customer:org-c' })).id).toBe(first.id);
    expect(await client.retrieveCustomer(first.id)).toEqual({ id: first.id, deleted: false, orgId: 'org-c' });
  });

  it('creates an off-session card SetupIntent on the customer, one even when its answer is lost and the call retried', async () => {
    const customer = await client.createCustomer({ orgId: 'org-s', idempotencyKey: 'stripe-customer:org-s' });
    stripe.loseAnswers(1);
    const seti = await client.createSetupIntent({ orgId: 'org-s', customer: customer.id, idempotencyKey: 'autotopup-setup:org-s:1' });
    expect(seti).toEqual({ id: expect.stringMatching(/^seti_/), clientSecret: expect.stringMatching(/_secret_/), status: 'requires_payment_method', usage: 'off_session', customer: customer.id, paymentMethod: null, orgId: 'org-s' });
    const sent = stripe.requestsTo(/^POST \/v1\/setup_intents$/);
    expect(sent.map((r) => r.headers['idempotency-key'])).toEqual(['autotopup-setup:org-s:1', 'autotopup-setup:org-s:1']);
    expect(parseStripeForm(sent[0].body)).toMatchObject({ customer: customer.id, usage: 'off_session', allowed_payment_method_types: { 0: 'card' }, metadata: { orgId: 'org-s' } });
    expect([...stripe.setup.setupIntents.values()].filter((s) => s.customer === customer.id)).toHaveLength(1);
  });

  it('reads a confirmed SetupIntent: its card attached to the customer; one Stripe does not know is a 404 invalid', async () => {
    const customer = await client.createCustomer({ orgId: 'org-r', idempotencyKey: 'stripe-customer:org-r' });
    const seti = await client.createSetupIntent({ orgId: 'org-r', customer: customer.id, idempotencyKey: 'autotopup-setup:org-r:1' });
    expect(stripe.setup.confirm(seti.id).status).toBe(200);
    const read = await client.retrieveSetupIntent(seti.id);
    expect(read).toMatchObject({ id: seti.id, status: 'succeeded', customer: customer.id, paymentMethod: expect.stringMatching(/^pm_/), orgId: 'org-r' });
    expect(await client.retrievePaymentMethod(read.paymentMethod!)).toEqual({ id: read.paymentMethod, customer: customer.id });
    const missing = await client.retrieveSetupIntent('seti_nobody').catch((e) => e);
    expect(missing).toBeInstanceOf(ProviderError);
    expect([missing.kind, missing.details.status]).toEqual(['invalid', 404]);
  });
});
