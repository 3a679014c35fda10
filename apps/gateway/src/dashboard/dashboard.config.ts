import { envSetting, isProduction } from '@billing/observability';

/**
 * What the dashboard needs to take payments in the browser, and where it sends a user back for
 * a new token. Every setting is optional: without them the page still works, it only says what
 * it cannot do here (card payments, signing in again).
 */
export interface StripeBrowserSettings {
  /** `pk_live_...` or `pk_test_...` (STRIPE_PUBLISHABLE_KEY): public by design, handed to Stripe.js. */
  readonly publishableKey: string;
  /** Where the browser loads Stripe.js from (STRIPE_JS_URL). */
  readonly jsUrl: string;
}

export interface DashboardConfig {
  /** Card payments (Stripe's Payment Element); null when STRIPE_PUBLISHABLE_KEY is not set: the page says card payments are unavailable. */
  readonly stripe: StripeBrowserSettings | null;
  /**
   * The portal's page that opens the dashboard with a new token (DASHBOARD_SIGN_IN_URL). The page
   * links there, with `return=<path and query>`, when it has no token (after coming back from a
   * provider); null: the page asks the user to open the dashboard again from the portal.
   */
  readonly signInUrl: string | null;
}

/** Stripe.js as Stripe serves it: its documentation requires loading it from js.stripe.com, never self-hosted or bundled. */
export const STRIPE_JS_ORIGIN = 'https://js.stripe.com';
export const DEFAULT_STRIPE_JS_URL = `${STRIPE_JS_ORIGIN}/v3/`;
const PUBLISHABLE_KEY = /^pk_(live|test)_[A-Za-z0-9_]{1,200}$/;
const SECRET_KEY_MODE = /^(?:sk|rk)_(live|test)_/;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function browserUrl(env: NodeJS.ProcessEnv, name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} must be an https URL, got '${value}'`);
  }
  // http only to this machine: a page served over https may not load or link it, and anything else is readable on the way.
  const ok = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname) && !isProduction(env));
  if (!ok || url.username || url.password || url.hash) throw new Error(`${name} must be an https URL (http only to localhost outside production), without credentials or fragment, got '${value}'`);
  return url;
}

/**
 * Reads STRIPE_PUBLISHABLE_KEY, STRIPE_JS_URL and DASHBOARD_SIGN_IN_URL. The publishable key must
 * be of the secret key's mode (a test key beside a live one makes payments that never arrive);
 * production takes Stripe.js only from js.stripe.com (any other origin there would be a copy of
 * Stripe.js someone else serves, with the page's payments in its hands).
 */
export function loadDashboardConfig(env: NodeJS.ProcessEnv, stripeSecretKey: string): DashboardConfig {
  const publishableKey = envSetting(env, 'STRIPE_PUBLISHABLE_KEY');
  let stripe: StripeBrowserSettings | null = null;
  if (publishableKey !== undefined) {
    const mode = PUBLISHABLE_KEY.exec(publishableKey)?.[1];
    if (!mode) throw new Error('STRIPE_PUBLISHABLE_KEY must be a Stripe publishable key (pk_live_... or pk_test_...)');
    const secretMode = SECRET_KEY_MODE.exec(stripeSecretKey)?.[1];
    if (secretMode !== mode) throw new Error(`STRIPE_PUBLISHABLE_KEY is a ${mode} key but STRIPE_SECRET_KEY a ${secretMode ?? 'unknown'} one: both must be live or both test`);
    const jsUrl = browserUrl(env, 'STRIPE_JS_URL', envSetting(env, 'STRIPE_JS_URL') ?? DEFAULT_STRIPE_JS_URL);
    if (isProduction(env) && jsUrl.origin !== STRIPE_JS_ORIGIN) throw new Error(`STRIPE_JS_URL must be on ${STRIPE_JS_ORIGIN} in production, got '${jsUrl.href}'`);
    stripe = { publishableKey, jsUrl: jsUrl.href };
  } else if (envSetting(env, 'STRIPE_JS_URL') !== undefined) {
    throw new Error('STRIPE_JS_URL is set without STRIPE_PUBLISHABLE_KEY: card payments need both (or the key alone, with Stripe\'s own URL)');
  }
  const signIn = envSetting(env, 'DASHBOARD_SIGN_IN_URL');
  return { stripe, signInUrl: signIn === undefined ? null : browserUrl(env, 'DASHBOARD_SIGN_IN_URL', signIn).href };
}
