// A return from a provider's page: what its answer means, and a way back in (the token stayed in the page that was left).
import { PROVIDER_NAMES, PROVIDER_SHORT, RETURN_WORDS } from './topup-words.js';

const $ = (id) => document.getElementById(id);

/** What the provider's return put in the address: `?provider=&result=&topup=` (PayPal, VNPAY, through the gateway) or Stripe's own. */
export function readReturn() {
  const q = new URLSearchParams(location.search);
  const provider = q.get('provider');
  if (!Object.hasOwn(RETURN_WORDS, provider)) return null;
  // Stripe's redirect adds the PaymentIntent's client secret: out of the address bar and the history at once.
  if (q.has('payment_intent_client_secret')) {
    q.delete('payment_intent_client_secret');
    history.replaceState(null, '', location.pathname + '?' + q);
  }
  const result = provider === 'stripe' ? q.get('redirect_status') : q.get('result');
  const topup = /^[0-9a-f-]{36}$/i.test(q.get('topup') || '') ? q.get('topup') : null;
  return { provider, result, topup, code: q.get('code') };
}

export function showReturn(r) {
  const [kind, text] = Object.hasOwn(RETURN_WORDS[r.provider], r.result) ? RETURN_WORDS[r.provider][r.result] : ['error', 'The payment page came back with an answer this page does not know.'];
  const banner = $('topup-return');
  banner.className = 'banner ' + kind;
  banner.dataset.result = r.result || '';
  banner.textContent = PROVIDER_NAMES[r.provider] + ': ' + text + (r.code && kind === 'error' ? ' (code ' + r.code + ')' : '');
  banner.hidden = false;
}

/** No token here (the token lives in a page's memory, and the trip to the provider left that page): the portal gives a new one. */
export function offerSignIn(r, settings) {
  const box = $('signin');
  const link = $('signin-link');
  const after = r && r.topup ? ' to follow this top-up until it is credited.' : ' to see your wallet.';
  const why = r ? 'Your session stayed in the page you left for ' + PROVIDER_SHORT[r.provider] + '.' : 'This page has no session.';
  if (settings && settings.signInUrl) {
    const url = new URL(settings.signInUrl);
    url.searchParams.set('return', location.pathname + location.search);
    link.href = url.href;
    link.hidden = false;
    $('signin-text').textContent = why;
    link.textContent = 'Sign in again' + after;
  } else {
    $('signin-text').textContent = why + ' Open the dashboard again from the portal' + after;
  }
  box.hidden = false;
}

