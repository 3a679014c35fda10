import { PAYPAL_CERT_HOSTS, PaypalCertificateSource, paypalCertificateFetcher, PaypalEnvironment, pinnedPaypalCertificate } from './paypal';
import { STRIPE_SIGNATURE_TOLERANCE_SECONDS } from './stripe';
import { VNPAY_SANDBOX_PAY_URL } from './vnpay';
import { envInt, envSetting, GuardedSetting, guardedSetting, isProduction } from '@billing/observability';
import { PAYPAL_API_BASE_URLS } from './paypal-client';
import { PAYPAL_WEBHOOK_VERIFICATIONS, PaypalWebhookVerification } from './paypal-webhook-verifier';
import { DEFAULT_PROVIDER_CALL_POLICY, ProviderCallPolicy } from './provider-call';
import { STRIPE_API_BASE_URL } from './stripe-client';
import { VNPAY_SANDBOX_API_URL } from './vnpay-api';
import { loadTopupLimits, TopupLimits } from './topup-limits';

/** How often the sweep re-sends credits and reversals the engine has not confirmed, by default. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
/** A settled top-up younger than this is left to its webhook handler, by default, which is probably still at it. */
export const DEFAULT_SWEEP_MIN_AGE_MS = 30_000;
/** Top-ups one sweep run handles; the rest wait for the next run. */
export const SWEEP_BATCH_SIZE = 100;
/** Database connections the gateway's payments may hold. */
export const DEFAULT_PAYMENTS_DB_POOL_MAX = 5;

/** How often the reconciliation job runs, by default (0 in PAYMENT_RECONCILE_INTERVAL_MS turns it off). */
export const DEFAULT_RECONCILE_INTERVAL_MS = 60_000;
/** A top-up pending this long is asked about at its provider, by default: its webhook was probably lost. */
export const DEFAULT_RECONCILE_AFTER_MS = 15 * 60_000;
/** Top-ups one reconciliation run asks about, by default; the rest wait for the next run. */
export const DEFAULT_RECONCILE_BATCH_SIZE = 50;
/** How long a gateway holds the top-ups it claimed for one run before another may take them, by default. */
export const DEFAULT_RECONCILE_LEASE_MS = 5 * 60_000;
/** The longest wait between two questions about one pending top-up, by default (the waits double from PAYMENT_RECONCILE_AFTER_MS). */
export const DEFAULT_RECONCILE_MAX_BACKOFF_MS = 60 * 60_000;
/** After a payment window closes, this long is left for a last-second payment's confirmation before the final check, by default. */
export const DEFAULT_EXPIRY_GRACE_MS = 5 * 60_000;
/** Stripe's PaymentIntents do not expire by themselves: ours are cancelled this long after they start, by default (a day, as Checkout's sessions). */
export const DEFAULT_STRIPE_PAYMENT_WINDOW_MS = 24 * 3600_000;
/** PayPal's documented default: an order not approved (and captured) within 3 hours expires. */
export const DEFAULT_PAYPAL_ORDER_WINDOW_MS = 3 * 3600_000;

/**
 * Which provider clients the gateway binds: `api` (the default) calls the providers' APIs;
 * `offline` makes references up and calls nothing (development, tests that need no provider),
 * and production refuses it.
 */
export type PaymentProvidersMode = 'api' | 'offline';
export const PAYMENT_PROVIDERS_MODES: readonly PaymentProvidersMode[] = ['api', 'offline'];

/** The payment providers' settings, read and checked once at start; every default runs on a development machine. */
export interface PaymentsConfig {
  readonly providers: PaymentProvidersMode;
  /** Timeouts and retries of every provider API call (provider-call.ts). */
  readonly calls: ProviderCallPolicy;
  readonly stripe: {
    /** The endpoint's signing secret (`whsec_...`). */
    readonly webhookSecret: string;
    readonly toleranceSeconds: number;
    /** The API key the SDK calls with (`sk_...` or a restricted `rk_...`). */
    readonly secretKey: string;
    /** Scheme, host and port of Stripe's API (STRIPE_API_BASE_URL). */
    readonly apiBaseUrl: string;
  };
  readonly vnpay: {
    readonly tmnCode: string;
    readonly hashSecret: string;
    readonly payUrl: string;
    readonly returnUrl: string;
    /** VNPAY's merchant API (querydr, refund): VNPAY_API_URL. */
    readonly apiUrl: string;
    /** `vnp_IpAddr` of API calls: this server's address as VNPAY knows it (VNPAY_SERVER_IP). */
    readonly serverIp: string;
  };
  readonly paypal: {
    /** The id PayPal gave the webhook; part of what PayPal signs. */
    readonly webhookId: string;
    /** Whose certificate hosts are believed: `live` (production's default) or `sandbox` (development's). */
    readonly environment: PaypalEnvironment;
    readonly certificates: PaypalCertificateSource;
    /** `local` (the certificate, here) or `api` (PayPal's verify-webhook-signature). */
    readonly webhookVerification: PaypalWebhookVerification;
    /** The REST app's credentials (OAuth2 client credentials). */
    readonly clientId: string;
    readonly clientSecret: string;
    /** PAYPAL_API_BASE_URL; by default PayPal's `api-m` host of PAYPAL_ENVIRONMENT. */
    readonly apiBaseUrl: string;
    /** Where PayPal sends the buyer back: the gateway's `/payments/paypal/return` as the browser reaches it. */
    readonly returnUrl: string;
    /** The buyer who cancels on PayPal's page comes back here: the return URL with `cancelled=1`. */
    readonly cancelUrl: string;
    /** Shown to the buyer on PayPal's page. */
    readonly brandName: string;
  };
  readonly sweepIntervalMs: number;
  readonly sweepMinAgeMs: number;
  readonly dbPoolMax: number;
  /** Minimum and maximum per top-up, and per 24 hours, per currency (TOPUP_MIN_*, TOPUP_MAX_*, TOPUP_DAILY_MAX_*). */
  readonly limits: TopupLimits;
  /** How long a payer has before a pending top-up expires (VNPAY's is the URL's vnp_ExpireDate, VNPAY_PAYMENT_WINDOW_MINUTES). */
  readonly windows: { readonly stripeMs: number; readonly paypalMs: number };
  /** The job that asks providers about top-ups left pending (a lost webhook) and expires them (payments.reconciler.ts). */
  readonly reconcile: {
    /** 0: the job does not run in this process. */
    readonly intervalMs: number;
    readonly afterMs: number;
    readonly batchSize: number;
    readonly leaseMs: number;
    readonly maxBackoffMs: number;
    readonly expiryGraceMs: number;
  };
}

export const DEV_STRIPE_WEBHOOK_SECRET = 'whsec_dev_only_change_me';
export const DEV_VNPAY_TMN_CODE = 'DEVTMN01';
export const DEV_VNPAY_HASH_SECRET = 'dev-only-vnpay-hash-secret-change-me';
export const DEV_PAYPAL_WEBHOOK_ID = 'WH-DEV-ONLY';
export const DEV_VNPAY_RETURN_URL = 'http://localhost:3000/payments/vnpay/return';
export const DEV_STRIPE_SECRET_KEY = 'sk_test_dev_only_change_me';
export const DEV_PAYPAL_CLIENT_ID = 'dev-only-paypal-client-id';
export const DEV_PAYPAL_CLIENT_SECRET = 'dev-only-paypal-client-secret-change-me';
export const DEV_PAYPAL_RETURN_URL = 'http://localhost:3000/payments/paypal/return';
export const DEFAULT_PAYPAL_BRAND_NAME = 'GPU Cloud';
/** What VNPAY API calls give as their server's address when VNPAY_SERVER_IP is not set. */
export const DEFAULT_VNPAY_SERVER_IP = '127.0.0.1';

const STRIPE_WEBHOOK_SECRET: GuardedSetting = { name: 'STRIPE_WEBHOOK_SECRET', devDefault: DEV_STRIPE_WEBHOOK_SECRET };
const VNPAY_TMN_CODE: GuardedSetting = { name: 'VNPAY_TMN_CODE', devDefault: DEV_VNPAY_TMN_CODE };
const VNPAY_HASH_SECRET: GuardedSetting = { name: 'VNPAY_HASH_SECRET', devDefault: DEV_VNPAY_HASH_SECRET };
const VNPAY_PAY_URL: GuardedSetting = { name: 'VNPAY_PAY_URL', devDefault: VNPAY_SANDBOX_PAY_URL };
const VNPAY_RETURN_URL: GuardedSetting = { name: 'VNPAY_RETURN_URL', devDefault: DEV_VNPAY_RETURN_URL };
const PAYPAL_WEBHOOK_ID: GuardedSetting = { name: 'PAYPAL_WEBHOOK_ID', devDefault: DEV_PAYPAL_WEBHOOK_ID };
/** The offline clients make payments up: never in production. Unset is the providers' APIs. */
const PAYMENT_PROVIDERS: GuardedSetting = { name: 'PAYMENT_PROVIDERS', optional: true, refusedValues: ['offline'] };
const STRIPE_SECRET_KEY: GuardedSetting = { name: 'STRIPE_SECRET_KEY', devDefault: DEV_STRIPE_SECRET_KEY };
const PAYPAL_CLIENT_ID: GuardedSetting = { name: 'PAYPAL_CLIENT_ID', devDefault: DEV_PAYPAL_CLIENT_ID };
const PAYPAL_CLIENT_SECRET: GuardedSetting = { name: 'PAYPAL_CLIENT_SECRET', devDefault: DEV_PAYPAL_CLIENT_SECRET };
const PAYPAL_RETURN_URL: GuardedSetting = { name: 'PAYPAL_RETURN_URL', devDefault: DEV_PAYPAL_RETURN_URL };
const VNPAY_API_URL: GuardedSetting = { name: 'VNPAY_API_URL', devDefault: VNPAY_SANDBOX_API_URL };

/**
 * Production refuses every provider's development default, used or not: a webhook route answers
 * whether or not the deployment takes that provider, and must not verify with a public secret.
 * The VNPAY URLs are not secret, but the sandbox and localhost have no place in production.
 */
export const PAYMENTS_SECRETS: readonly GuardedSetting[] = [
  STRIPE_WEBHOOK_SECRET,
  VNPAY_TMN_CODE,
  VNPAY_HASH_SECRET,
  VNPAY_PAY_URL,
  VNPAY_RETURN_URL,
  PAYPAL_WEBHOOK_ID,
  // The API clients' credentials and URLs (VNPAY's API signs with VNPAY_TMN_CODE and VNPAY_HASH_SECRET).
  PAYMENT_PROVIDERS,
  STRIPE_SECRET_KEY,
  PAYPAL_CLIENT_ID,
  PAYPAL_CLIENT_SECRET,
  PAYPAL_RETURN_URL,
  VNPAY_API_URL,
];

function url(env: NodeJS.ProcessEnv, setting: GuardedSetting | { name: string; value: string }): string {
  const v = 'value' in setting ? setting.value : guardedSetting(env, setting);
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch {
    throw new Error(`${setting.name} must be an http(s) URL, got '${v}'`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error(`${setting.name} must be an http(s) URL, got '${v}'`);
  return v;
}

/** An API base: http(s), and nothing after the host and port (Stripe's SDK takes a host, port and protocol). */
function apiBase(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const v = url(env, { name, value: envSetting(env, name) ?? fallback });
  const parsed = new URL(v);
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search || parsed.hash || parsed.username || parsed.password) throw new Error(`${name} must be a scheme, host and port only (like ${fallback}), got '${v}'`);
  return parsed.origin;
}

/** Stripe's secret and restricted keys: `sk_live_...`, `sk_test_...`, `rk_live_...`, `rk_test_...`. */
const STRIPE_KEY = /^(sk|rk)_(live|test)_[A-Za-z0-9_]{1,200}$/;

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, values: readonly T[], fallback: T): T {
  const v = envSetting(env, name) ?? fallback;
  if (!(values as readonly string[]).includes(v)) throw new Error(`${name} must be one of ${values.join(', ')}, got '${v}'`);
  return v as T;
}

/**
 * PAYPAL_CERT_PEM pins the certificate (tests use a self-signed one, a deployment may pin
 * PayPal's); without it certificates are fetched from PAYPAL-CERT-URL, PayPal's exact API hosts
 * of PAYPAL_ENVIRONMENT and certificate path only (paypal.ts).
 */
export function loadPaymentsConfig(env: NodeJS.ProcessEnv = process.env): PaymentsConfig {
  const pem = envSetting(env, 'PAYPAL_CERT_PEM');
  const environment = (envSetting(env, 'PAYPAL_ENVIRONMENT') ?? (isProduction(env) ? 'live' : 'sandbox')) as PaypalEnvironment;
  if (!Object.hasOwn(PAYPAL_CERT_HOSTS, environment)) throw new Error(`PAYPAL_ENVIRONMENT must be live or sandbox, got '${environment}'`);
  const providers = oneOf(env, PAYMENT_PROVIDERS.name, PAYMENT_PROVIDERS_MODES, 'api');
  const webhookVerification = oneOf(env, 'PAYPAL_WEBHOOK_VERIFICATION', PAYPAL_WEBHOOK_VERIFICATIONS, 'local');
  if (webhookVerification === 'api' && providers === 'offline') throw new Error('PAYPAL_WEBHOOK_VERIFICATION=api needs PayPal\'s API: not with PAYMENT_PROVIDERS=offline');
  const secretKey = guardedSetting(env, STRIPE_SECRET_KEY);
  if (!STRIPE_KEY.test(secretKey)) throw new Error('STRIPE_SECRET_KEY must be a Stripe secret or restricted key (sk_live_..., sk_test_..., rk_...)');
  const paypalReturnUrl = url(env, PAYPAL_RETURN_URL);
  const cancelUrl = new URL(paypalReturnUrl);
  cancelUrl.searchParams.set('cancelled', '1');
  return {
    providers,
    calls: {
      timeoutMs: envInt(env, 'PAYMENT_PROVIDER_TIMEOUT_MS', DEFAULT_PROVIDER_CALL_POLICY.timeoutMs, 100, 120_000),
      maxRetries: envInt(env, 'PAYMENT_PROVIDER_MAX_RETRIES', DEFAULT_PROVIDER_CALL_POLICY.maxRetries, 0, 10),
      retryBaseMs: envInt(env, 'PAYMENT_PROVIDER_RETRY_BASE_MS', DEFAULT_PROVIDER_CALL_POLICY.retryBaseMs, 1, 60_000),
      maxRetryDelayMs: envInt(env, 'PAYMENT_PROVIDER_MAX_RETRY_DELAY_MS', DEFAULT_PROVIDER_CALL_POLICY.maxRetryDelayMs, 1, 120_000),
    },
    stripe: {
      webhookSecret: guardedSetting(env, STRIPE_WEBHOOK_SECRET),
      toleranceSeconds: envInt(env, 'STRIPE_SIGNATURE_TOLERANCE_SECONDS', STRIPE_SIGNATURE_TOLERANCE_SECONDS, 1, 3600),
      secretKey,
      apiBaseUrl: apiBase(env, 'STRIPE_API_BASE_URL', STRIPE_API_BASE_URL),
    },
    vnpay: {
      tmnCode: guardedSetting(env, VNPAY_TMN_CODE),
      hashSecret: guardedSetting(env, VNPAY_HASH_SECRET),
      payUrl: url(env, VNPAY_PAY_URL),
      returnUrl: url(env, VNPAY_RETURN_URL),
      apiUrl: url(env, VNPAY_API_URL),
      serverIp: envSetting(env, 'VNPAY_SERVER_IP') ?? DEFAULT_VNPAY_SERVER_IP,
    },
    paypal: {
      webhookId: guardedSetting(env, PAYPAL_WEBHOOK_ID),
      environment,
      certificates: pem ? pinnedPaypalCertificate(pem) : paypalCertificateFetcher(environment),
      webhookVerification,
      clientId: guardedSetting(env, PAYPAL_CLIENT_ID),
      clientSecret: guardedSetting(env, PAYPAL_CLIENT_SECRET),
      apiBaseUrl: apiBase(env, 'PAYPAL_API_BASE_URL', PAYPAL_API_BASE_URLS[environment]),
      returnUrl: paypalReturnUrl,
      cancelUrl: cancelUrl.href,
      brandName: (envSetting(env, 'PAYPAL_BRAND_NAME') ?? DEFAULT_PAYPAL_BRAND_NAME).slice(0, 127),
    },
    sweepIntervalMs: envInt(env, 'PAYMENTS_SWEEP_INTERVAL_MS', DEFAULT_SWEEP_INTERVAL_MS, 10, 86_400_000),
    sweepMinAgeMs: envInt(env, 'PAYMENTS_SWEEP_MIN_AGE_MS', DEFAULT_SWEEP_MIN_AGE_MS, 0, 86_400_000),
    dbPoolMax: envInt(env, 'PAYMENTS_DB_POOL_MAX', DEFAULT_PAYMENTS_DB_POOL_MAX, 1, 100),
    limits: loadTopupLimits(env),
    windows: {
      stripeMs: envInt(env, 'STRIPE_PAYMENT_WINDOW_MS', DEFAULT_STRIPE_PAYMENT_WINDOW_MS, 1000, 30 * 86_400_000),
      paypalMs: envInt(env, 'PAYPAL_ORDER_WINDOW_MS', DEFAULT_PAYPAL_ORDER_WINDOW_MS, 1000, 30 * 86_400_000),
    },
    reconcile: {
      intervalMs: reconcileInterval(env),
      afterMs: envInt(env, 'PAYMENT_RECONCILE_AFTER_MS', DEFAULT_RECONCILE_AFTER_MS, 0, 30 * 86_400_000),
      batchSize: envInt(env, 'PAYMENT_RECONCILE_BATCH_SIZE', DEFAULT_RECONCILE_BATCH_SIZE, 1, 1000),
      leaseMs: envInt(env, 'PAYMENT_RECONCILE_LEASE_MS', DEFAULT_RECONCILE_LEASE_MS, 1000, 86_400_000),
      maxBackoffMs: envInt(env, 'PAYMENT_RECONCILE_MAX_BACKOFF_MS', DEFAULT_RECONCILE_MAX_BACKOFF_MS, 10, 7 * 86_400_000),
      expiryGraceMs: envInt(env, 'PAYMENT_EXPIRY_GRACE_MS', DEFAULT_EXPIRY_GRACE_MS, 0, 86_400_000),
    },
  };
}

/** PAYMENT_RECONCILE_INTERVAL_MS: 0 (off), or at least 10 ms. */
function reconcileInterval(env: NodeJS.ProcessEnv): number {
  const ms = envInt(env, 'PAYMENT_RECONCILE_INTERVAL_MS', DEFAULT_RECONCILE_INTERVAL_MS, 0, 86_400_000);
  if (ms !== 0 && ms < 10) throw new Error(`PAYMENT_RECONCILE_INTERVAL_MS must be 0 (off) or at least 10, got '${ms}'`);
  return ms;
}
