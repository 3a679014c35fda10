import { PAYPAL_CERT_HOSTS, PaypalCertificateSource, paypalCertificateFetcher, PaypalEnvironment, pinnedPaypalCertificate } from './paypal';
import { STRIPE_SIGNATURE_TOLERANCE_SECONDS } from './stripe';
import { VNPAY_SANDBOX_PAY_URL } from './vnpay';
import { envInt, envSetting, GuardedSetting, guardedSetting, isProduction } from '@billing/observability';

/** How often the sweep re-sends credits and reversals the engine has not confirmed, by default. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
/** A settled top-up younger than this is left to its webhook handler, by default, which is probably still at it. */
export const DEFAULT_SWEEP_MIN_AGE_MS = 30_000;
/** Top-ups one sweep run handles; the rest wait for the next run. */
export const SWEEP_BATCH_SIZE = 100;
/** Database connections the gateway's payments may hold. */
export const DEFAULT_PAYMENTS_DB_POOL_MAX = 5;

/** The payment providers' settings, read and checked once at start; every default runs on a development machine. */
export interface PaymentsConfig {
  readonly stripe: {
    /** The endpoint's signing secret (`whsec_...`). */
    readonly webhookSecret: string;
    readonly toleranceSeconds: number;
  };
  readonly vnpay: {
    readonly tmnCode: string;
    readonly hashSecret: string;
    readonly payUrl: string;
    readonly returnUrl: string;
  };
  readonly paypal: {
    /** The id PayPal gave the webhook; part of what PayPal signs. */
    readonly webhookId: string;
    /** Whose certificate hosts are believed: `live` (production's default) or `sandbox` (development's). */
    readonly environment: PaypalEnvironment;
    readonly certificates: PaypalCertificateSource;
  };
  readonly sweepIntervalMs: number;
  readonly sweepMinAgeMs: number;
  readonly dbPoolMax: number;
}

export const DEV_STRIPE_WEBHOOK_SECRET = 'whsec_dev_only_change_me';
export const DEV_VNPAY_TMN_CODE = 'DEVTMN01';
export const DEV_VNPAY_HASH_SECRET = 'dev-only-vnpay-hash-secret-change-me';
export const DEV_PAYPAL_WEBHOOK_ID = 'WH-DEV-ONLY';
export const DEV_VNPAY_RETURN_URL = 'http://localhost:3000/#topup';

const STRIPE_WEBHOOK_SECRET: GuardedSetting = { name: 'STRIPE_WEBHOOK_SECRET', devDefault: DEV_STRIPE_WEBHOOK_SECRET };
const VNPAY_TMN_CODE: GuardedSetting = { name: 'VNPAY_TMN_CODE', devDefault: DEV_VNPAY_TMN_CODE };
const VNPAY_HASH_SECRET: GuardedSetting = { name: 'VNPAY_HASH_SECRET', devDefault: DEV_VNPAY_HASH_SECRET };
const VNPAY_PAY_URL: GuardedSetting = { name: 'VNPAY_PAY_URL', devDefault: VNPAY_SANDBOX_PAY_URL };
const VNPAY_RETURN_URL: GuardedSetting = { name: 'VNPAY_RETURN_URL', devDefault: DEV_VNPAY_RETURN_URL };
const PAYPAL_WEBHOOK_ID: GuardedSetting = { name: 'PAYPAL_WEBHOOK_ID', devDefault: DEV_PAYPAL_WEBHOOK_ID };

/**
 * Production refuses every provider's development default, used or not: a webhook route answers
 * whether or not the deployment takes that provider, and must not verify with a public secret.
 * The VNPAY URLs are not secret, but the sandbox and localhost have no place in production.
 */
export const PAYMENTS_SECRETS: readonly GuardedSetting[] = [STRIPE_WEBHOOK_SECRET, VNPAY_TMN_CODE, VNPAY_HASH_SECRET, VNPAY_PAY_URL, VNPAY_RETURN_URL, PAYPAL_WEBHOOK_ID];

function url(env: NodeJS.ProcessEnv, setting: GuardedSetting): string {
  const v = guardedSetting(env, setting);
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch {
    throw new Error(`${setting.name} must be an http(s) URL, got '${v}'`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error(`${setting.name} must be an http(s) URL, got '${v}'`);
  return v;
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
  return {
    stripe: {
      webhookSecret: guardedSetting(env, STRIPE_WEBHOOK_SECRET),
      toleranceSeconds: envInt(env, 'STRIPE_SIGNATURE_TOLERANCE_SECONDS', STRIPE_SIGNATURE_TOLERANCE_SECONDS, 1, 3600),
    },
    vnpay: {
      tmnCode: guardedSetting(env, VNPAY_TMN_CODE),
      hashSecret: guardedSetting(env, VNPAY_HASH_SECRET),
      payUrl: url(env, VNPAY_PAY_URL),
      returnUrl: url(env, VNPAY_RETURN_URL),
    },
    paypal: {
      webhookId: guardedSetting(env, PAYPAL_WEBHOOK_ID),
      environment,
      certificates: pem ? pinnedPaypalCertificate(pem) : paypalCertificateFetcher(environment),
    },
    sweepIntervalMs: envInt(env, 'PAYMENTS_SWEEP_INTERVAL_MS', DEFAULT_SWEEP_INTERVAL_MS, 10, 86_400_000),
    sweepMinAgeMs: envInt(env, 'PAYMENTS_SWEEP_MIN_AGE_MS', DEFAULT_SWEEP_MIN_AGE_MS, 0, 86_400_000),
    dbPoolMax: envInt(env, 'PAYMENTS_DB_POOL_MAX', DEFAULT_PAYMENTS_DB_POOL_MAX, 1, 100),
  };
}
