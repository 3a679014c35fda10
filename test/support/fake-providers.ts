import { FakePayPal } from './fake-paypal';
import { FakeStripe } from './fake-stripe';
import { FakeVnpay } from './fake-vnpay';

/**
 * The three local fake providers a payments test runs (Stripe, PayPal, VNPAY), with credentials
 * of the test's own (`label` names them), the gateway settings that point its real provider
 * clients at them, and where the fakes deliver their webhooks. Nothing leaves the machine.
 */
export class FakeProviders {
  readonly stripe: FakeStripe;
  readonly paypal: FakePayPal;
  readonly vnpay: FakeVnpay;
  readonly credentials;

  constructor(label: string) {
    const tag = label.replace(/[^A-Za-z0-9]/g, '').toUpperCase().padEnd(6, '0').slice(0, 6);
    this.credentials = {
      stripe: { secretKey: `sk_test_e2e_${label}_0123456789`, webhookSecret: `whsec_e2e_${label}_0123456789`, publishableKey: `pk_test_e2e_${label}_0123456789` },
      paypal: { clientId: `A${tag}Client01`, clientSecret: `E${tag}Secret01`, webhookId: `WH-E2E-${tag}-1` },
      // VNPAY's terminal code is 8 characters, its hash secret 32.
      vnpay: { tmnCode: `E2E${tag.slice(0, 5)}`, hashSecret: `E2EVNPAY${tag}`.padEnd(32, '0') },
    };
    this.stripe = new FakeStripe(this.credentials.stripe);
    this.paypal = new FakePayPal(this.credentials.paypal);
    this.vnpay = new FakeVnpay(this.credentials.vnpay);
  }

  async start(): Promise<void> {
    await Promise.all([this.stripe.start(), this.paypal.start(), this.vnpay.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.stripe.stop(), this.paypal.stop(), this.vnpay.stop()]);
  }

  clearFaults(): void {
    this.stripe.clearFaults();
    this.paypal.clearFaults();
    this.vnpay.clearFaults();
  }

  /**
   * The gateway's settings for the real clients against these fakes: PayPal's webhooks checked by
   * its verify-webhook-signature API (played by the fake) unless `overrides` says `local` (then
   * with the fake's pinned certificate). Call after `start` (the fakes' ports).
   */
  gatewayEnv(overrides: Record<string, string> = {}): Record<string, string> {
    const { stripe, paypal, vnpay } = this.credentials;
    return {
      PAYMENT_PROVIDERS: 'api',
      PAYMENT_PROVIDER_TIMEOUT_MS: '1500',
      PAYMENT_PROVIDER_MAX_RETRIES: '2',
      PAYMENT_PROVIDER_RETRY_BASE_MS: '50',
      STRIPE_SECRET_KEY: stripe.secretKey,
      STRIPE_API_BASE_URL: this.stripe.url,
      STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
      PAYPAL_CLIENT_ID: paypal.clientId,
      PAYPAL_CLIENT_SECRET: paypal.clientSecret,
      PAYPAL_API_BASE_URL: this.paypal.url,
      PAYPAL_WEBHOOK_ID: paypal.webhookId,
      PAYPAL_WEBHOOK_VERIFICATION: 'api',
      PAYPAL_CERT_PEM: this.paypal.certificatePem,
      VNPAY_TMN_CODE: vnpay.tmnCode,
      VNPAY_HASH_SECRET: vnpay.hashSecret,
      VNPAY_PAY_URL: this.vnpay.payUrl,
      VNPAY_API_URL: this.vnpay.apiUrl,
      ...overrides,
    };
  }

  /** Where the fakes deliver their webhooks and IPNs: the gateway's routes. */
  deliverTo(gatewayUrl: string): void {
    this.stripe.webhookUrl = `${gatewayUrl}/webhooks/stripe`;
    this.paypal.webhookUrl = `${gatewayUrl}/webhooks/paypal`;
    this.vnpay.ipnUrl = `${gatewayUrl}/webhooks/vnpay/ipn`;
  }
}
