import { PaypalCertificateSource, paypalCertificateFetcher, pinnedPaypalCertificate } from './paypal';
import { STRIPE_SIGNATURE_TOLERANCE_SECONDS } from './stripe';
import { VNPAY_SANDBOX_PAY_URL } from './vnpay';
import { envInt } from '@billing/observability';

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


function url(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const v = env[name] || fallback;
  const parsed = new URL(v); // throws on a malformed one: at start, with the name
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error(`${name} must be an http(s) URL, got '${v}'`);
  return v;
}

/**
 * PAYPAL_CERT_PEM pins the certificate (tests use a self-signed one, a deployment may pin
 * PayPal's); without it certificates are fetched from PAYPAL-CERT-URL, https://*.paypal.com only.
 */
export function loadPaymentsConfig(env: NodeJS.ProcessEnv = process.env): PaymentsConfig {
  const pem = env.PAYPAL_CERT_PEM;
  return {
    stripe: {
      webhookSecret: env.STRIPE_WEBHOOK_SECRET || DEV_STRIPE_WEBHOOK_SECRET,
      toleranceSeconds: envInt(env, 'STRIPE_SIGNATURE_TOLERANCE_SECONDS', STRIPE_SIGNATURE_TOLERANCE_SECONDS, 1, 3600),
    },
    vnpay: {
      tmnCode: env.VNPAY_TMN_CODE || DEV_VNPAY_TMN_CODE,
      hashSecret: env.VNPAY_HASH_SECRET || DEV_VNPAY_HASH_SECRET,
      payUrl: url(env, 'VNPAY_PAY_URL', VNPAY_SANDBOX_PAY_URL),
      returnUrl: url(env, 'VNPAY_RETURN_URL', 'http://localhost:3000/#topup'),
    },
    paypal: {
      webhookId: env.PAYPAL_WEBHOOK_ID || DEV_PAYPAL_WEBHOOK_ID,
      certificates: pem ? pinnedPaypalCertificate(pem) : paypalCertificateFetcher(),
    },
    sweepIntervalMs: envInt(env, 'PAYMENTS_SWEEP_INTERVAL_MS', DEFAULT_SWEEP_INTERVAL_MS, 10, 86_400_000),
    sweepMinAgeMs: envInt(env, 'PAYMENTS_SWEEP_MIN_AGE_MS', DEFAULT_SWEEP_MIN_AGE_MS, 0, 86_400_000),
    dbPoolMax: envInt(env, 'PAYMENTS_DB_POOL_MAX', DEFAULT_PAYMENTS_DB_POOL_MAX, 1, 100),
  };
}
