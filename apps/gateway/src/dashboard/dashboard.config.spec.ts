import { DEFAULT_STRIPE_JS_URL, loadDashboardConfig } from './dashboard.config';

const TEST_SECRET = 'sk_test_dev_only_change_me';

describe('dashboard settings', () => {
  it('offers no card payments and no sign-in link unless told', () => {
    expect(loadDashboardConfig({}, TEST_SECRET)).toEqual({ stripe: null, signInUrl: null });
  });

  it("loads Stripe.js from Stripe by default, once there is a publishable key of the secret key's mode", () => {
    expect(loadDashboardConfig({ STRIPE_PUBLISHABLE_KEY: 'pk_test_abc123' }, TEST_SECRET).stripe).toEqual({ publishableKey: 'pk_test_abc123', jsUrl: DEFAULT_STRIPE_JS_URL });
    expect(DEFAULT_STRIPE_JS_URL).toBe('https://js.stripe.com/v3/');
    expect(() => loadDashboardConfig({ STRIPE_PUBLISHABLE_KEY: 'pk_test_abc123' }, 'sk_live_abc')).toThrow(/a test key but STRIPE_SECRET_KEY a live one/);
    expect(() => loadDashboardConfig({ STRIPE_PUBLISHABLE_KEY: 'pk_live_abc123' }, 'rk_test_abc')).toThrow(/a live key but STRIPE_SECRET_KEY a test one/);
    expect(() => loadDashboardConfig({ STRIPE_PUBLISHABLE_KEY: 'sk_test_abc123' }, TEST_SECRET)).toThrow(/STRIPE_PUBLISHABLE_KEY must be a Stripe publishable key/);
    expect(() => loadDashboardConfig({ STRIPE_JS_URL: 'https://js.stripe.com/v3/' }, TEST_SECRET)).toThrow(/without STRIPE_PUBLISHABLE_KEY/);
  });

  it('takes another Stripe.js URL over https, or http on this machine, outside production only', () => {
    const key = { STRIPE_PUBLISHABLE_KEY: 'pk_test_abc123' };
    expect(loadDashboardConfig({ ...key, STRIPE_JS_URL: 'http://127.0.0.1:4010/v3/' }, TEST_SECRET).stripe?.jsUrl).toBe('http://127.0.0.1:4010/v3/');
    expect(loadDashboardConfig({ ...key, STRIPE_JS_URL: 'https://js.stripe.com/clover/stripe.js', NODE_ENV: 'production' }, 'sk_test_x').stripe?.jsUrl).toBe('https://js.stripe.com/clover/stripe.js');
    expect(() => loadDashboardConfig({ ...key, STRIPE_JS_URL: 'http://stripe.example/v3/' }, TEST_SECRET)).toThrow(/STRIPE_JS_URL must be an https URL/);
    expect(() => loadDashboardConfig({ ...key, STRIPE_JS_URL: 'https://cdn.example/stripe.js', NODE_ENV: 'production' }, 'sk_test_x')).toThrow(/must be on https:\/\/js.stripe.com in production/);
    expect(() => loadDashboardConfig({ ...key, STRIPE_JS_URL: 'http://127.0.0.1:4010/v3/', NODE_ENV: 'production' }, 'sk_test_x')).toThrow(/STRIPE_JS_URL must be an https URL/);
    expect(() => loadDashboardConfig({ ...key, STRIPE_JS_URL: 'https://user:pw@js.stripe.com/v3/' }, TEST_SECRET)).toThrow(/without credentials/);
  });

  it("names the portal's sign-in page: https, or http on this machine outside production", () => {
    expect(loadDashboardConfig({ DASHBOARD_SIGN_IN_URL: 'https://portal.example.com/billing/open' }, TEST_SECRET).signInUrl).toBe('https://portal.example.com/billing/open');
    expect(loadDashboardConfig({ DASHBOARD_SIGN_IN_URL: 'http://localhost:8080/open' }, TEST_SECRET).signInUrl).toBe('http://localhost:8080/open');
    expect(() => loadDashboardConfig({ DASHBOARD_SIGN_IN_URL: 'http://portal.example.com/open' }, TEST_SECRET)).toThrow(/DASHBOARD_SIGN_IN_URL must be an https URL/);
    expect(() => loadDashboardConfig({ DASHBOARD_SIGN_IN_URL: 'javascript:alert(1)' }, TEST_SECRET)).toThrow(/DASHBOARD_SIGN_IN_URL/);
  });
});
