import { loadPaymentsConfig } from './payments.config';

describe('payments settings', () => {
  it('calls the providers\' APIs by default, at their own hosts, with the documented timeouts and retries', () => {
    const config = loadPaymentsConfig({});
    expect(config.providers).toBe('api');
    expect(config.calls).toEqual({ timeoutMs: 10_000, maxRetries: 2, retryBaseMs: 250, maxRetryDelayMs: 5_000 });
    expect(config.stripe.apiBaseUrl).toBe('https://api.stripe.com');
    expect(config.paypal).toMatchObject({ apiBaseUrl: 'https://api-m.sandbox.paypal.com', webhookVerification: 'local', returnUrl: 'http://localhost:3000/payments/paypal/return', cancelUrl: 'http://localhost:3000/payments/paypal/return?cancelled=1' });
    expect(loadPaymentsConfig({ PAYPAL_ENVIRONMENT: 'live' }).paypal.apiBaseUrl).toBe('https://api-m.paypal.com');
    expect(config.vnpay.apiUrl).toBe('https://sandbox.vnpayment.vn/merchant_webapi/api/transaction');
  });

  it('takes base URLs as scheme, host and port only', () => {
    expect(loadPaymentsConfig({ STRIPE_API_BASE_URL: 'http://127.0.0.1:4010/', PAYPAL_API_BASE_URL: 'http://127.0.0.1:4011' })).toMatchObject({ stripe: { apiBaseUrl: 'http://127.0.0.1:4010' }, paypal: { apiBaseUrl: 'http://127.0.0.1:4011' } });
    expect(() => loadPaymentsConfig({ STRIPE_API_BASE_URL: 'https://proxy.test/stripe' })).toThrow(/STRIPE_API_BASE_URL must be a scheme, host and port only/);
    expect(() => loadPaymentsConfig({ PAYPAL_API_BASE_URL: 'ftp://paypal.test' })).toThrow(/PAYPAL_API_BASE_URL must be an http\(s\) URL/);
    expect(() => loadPaymentsConfig({ VNPAY_API_URL: 'not a url' })).toThrow(/VNPAY_API_URL/);
  });

  it('refuses what cannot work: an unknown mode, a key that is not Stripe\'s, PayPal\'s verify API without the APIs', () => {
    expect(() => loadPaymentsConfig({ PAYMENT_PROVIDERS: 'fake' })).toThrow(/PAYMENT_PROVIDERS must be one of api, offline/);
    expect(() => loadPaymentsConfig({ STRIPE_SECRET_KEY: 'pk_test_publishable' })).toThrow(/STRIPE_SECRET_KEY/);
    expect(() => loadPaymentsConfig({ PAYMENT_PROVIDERS: 'offline', PAYPAL_WEBHOOK_VERIFICATION: 'api' })).toThrow(/not with PAYMENT_PROVIDERS=offline/);
    expect(() => loadPaymentsConfig({ PAYMENT_PROVIDER_TIMEOUT_MS: '0' })).toThrow(/PAYMENT_PROVIDER_TIMEOUT_MS/);
    expect(loadPaymentsConfig({ PAYMENT_PROVIDERS: 'offline' }).providers).toBe('offline');
  });
});
