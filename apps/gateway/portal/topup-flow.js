// Top-ups: choose a provider and an amount, go to the provider, come back, follow it until credited.
// The page never decides what is paid: it shows what the provider told the browser (checked by the
// gateway: VNPAY's signature, PayPal's capture) and what GET /api/v1/topups/<id> says, which only
// the providers' own confirmations (webhooks, IPN, reconciliation) move. Every text from the
// address or the network goes in through textContent, never as HTML. This module drives the
// elements TopupPage renders once (and never re-renders), by id, as the dashboard before it did.
import { money } from './format.js';
import { token } from './session.js';
import { loadSettings } from './settings.js';
import { PROVIDER_NAMES, PROVIDER_SHORT, RETURN_WORDS } from './topup-words.js';
import { offerSignIn, readReturn, showReturn } from './topup-return.js';

const headers = { Authorization: 'Bearer ' + token };
const $ = (id) => document.getElementById(id);
let settings = null;
let walletCurrency; // undefined until the first balance, then the wallet's currency or null (none yet)
let stripe = null; // Stripe.js's client, once loaded
let cardUnavailable = null; // why card payments cannot be offered here
let followed = null;
let followDone = false;
let followTimer = null;
let polls = 0;

function message(text, kind) {
  const el = $('topup-message');
  el.textContent = text;
  el.className = kind === 'error' ? 'error-text' : '';
}

function providerOf(id) {
  return settings.providers.find((p) => p.id === id);
}

/** Why a provider cannot be chosen now, or null. */
function unavailable(p) {
  if (p.id === 'stripe' && cardUnavailable) return cardUnavailable;
  if (p.id === 'stripe' && !stripe) return 'Card payments: loading Stripe.js...';
  if (walletCurrency && !p.currencies.includes(walletCurrency)) return PROVIDER_NAMES[p.id] + ' takes ' + p.currencies.join(', ') + ', not ' + walletCurrency + ' (this wallet\'s currency).';
  return null;
}

function renderProviders() {
  if (!settings) return;
  const select = $('topup-provider');
  const chosen = select.value;
  select.textContent = '';
  const notes = [];
  for (const p of settings.providers) {
    const option = document.createElement('option');
    option.value = p.id;
    option.textContent = PROVIDER_NAMES[p.id] || p.id;
    const why = unavailable(p);
    option.disabled = why !== null;
    if (why) notes.push(why);
    select.appendChild(option);
  }
  const usable = [...select.options].filter((o) => !o.disabled);
  select.value = usable.some((o) => o.value === chosen) ? chosen : usable.length ? usable[0].value : '';
  $('topup-notes').textContent = notes.join(' ');
  renderCurrencies();
}

/** The wallet's currency once it has one (the first credit fixes it); before that, what the chosen provider takes. */
function renderCurrencies() {
  const select = $('topup-currency');
  const p = settings && providerOf($('topup-provider').value);
  const choices = walletCurrency ? [walletCurrency] : p ? p.currencies : [];
  const chosen = select.value;
  select.textContent = '';
  for (const c of choices) {
    const option = document.createElement('option');
    option.value = c;
    option.textContent = c;
    select.appendChild(option);
  }
  if (choices.includes(chosen)) select.value = chosen;
  select.disabled = choices.length < 2;
  const decimals = settings && settings.currencies[select.value] ? settings.currencies[select.value].decimals : 2;
  $('topup-amount').placeholder = decimals ? '25.' + '0'.repeat(decimals) : '100000';
}

function walletCurrencyIs(currency) {
  if (currency === walletCurrency) return;
  walletCurrency = currency;
  renderProviders();
}

/** Stripe.js from where the settings say, if the browser can reach it; the page goes on without it. */
function loadStripe(card) {
  return new Promise((resolve) => {
    const script = document.createElement('script');
    const timer = setTimeout(() => resolve(null), 10000);
    script.src = card.jsUrl;
    script.async = true;
    script.onload = () => {
      clearTimeout(timer);
      resolve(typeof window.Stripe === 'function' ? window.Stripe(card.publishableKey) : null);
    };
    script.onerror = () => {
      clearTimeout(timer);
      resolve(null);
    };
    document.head.appendChild(script);
  });
}

async function setUpTopups() {
  $('topup-section').hidden = false;
  if (!settings) {
    message('Top-ups are unavailable: the gateway did not say which providers it takes. Reload to try again.', 'error');
    $('topup-start').disabled = true;
    return;
  }
  const card = providerOf('stripe') && providerOf('stripe').card;
  if (!card) cardUnavailable = 'Card payments are unavailable here: they are not set up on this gateway.';
  renderProviders();
  $('topup-provider').addEventListener('change', renderCurrencies);
  $('topup-form').addEventListener('submit', (e) => {
    e.preventDefault();
    startTopup();
  });
  if (card) {
    stripe = await loadStripe(card);
    if (!stripe) cardUnavailable = 'Card payments are unavailable here: Stripe.js could not be loaded from ' + new URL(card.jsUrl).host + '.';
    renderProviders();
  }
}

async function startTopup() {
  const provider = $('topup-provider').value;
  const currency = $('topup-currency').value;
  const amount = $('topup-amount').value.trim();
  if (!provider) return message('No provider can take a payment here now.', 'error');
  // Digits only: the amount goes to the gateway as the string typed, never as a floating-point number.
  if (!/^[0-9]+(\.[0-9]+)?$/.test(amount)) return message('Enter an amount such as ' + $('topup-amount').placeholder + '.', 'error');
  $('topup-start').disabled = true;
  message('Starting the top-up...');
  let res;
  let body;
  try {
    res = await fetch('/api/v1/topups', { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify({ amount, currency, provider }) });
    body = await res.json();
  } catch (e) {
    $('topup-start').disabled = false;
    return message('The gateway could not be reached: nothing was started.', 'error');
  }
  if (!res.ok || !body.ok) {
    $('topup-start').disabled = false;
    const error = (body && body.error) || {};
    return message((error.message || 'refused (HTTP ' + res.status + ')') + (error.code ? ' [' + error.code + ']' : ''), 'error');
  }
  const topup = body.topup;
  if (provider === 'vnpay') return goTo(topup.vnpay.paymentUrl, 'VNPAY');
  if (provider === 'paypal') {
    if (!topup.paypal.approveUrl) {
      $('topup-start').disabled = false;
      return message('PayPal gave no approval link (its API is not in use on this gateway): nothing was charged.', 'error');
    }
    return goTo(topup.paypal.approveUrl, 'PayPal');
  }
  payByCard(topup);
}

/** The provider's own page, in this tab (the token stays behind: coming back means signing in again). */
function goTo(url, name) {
  let target;
  try {
    target = new URL(url);
  } catch (e) {
    target = null;
  }
  if (!target || (target.protocol !== 'https:' && target.protocol !== 'http:')) {
    $('topup-start').disabled = false;
    return message(name + "'s payment address is not a web address: nothing was charged.", 'error');
  }
  message('Going to ' + name + '...');
  location.assign(target.href);
}

/** Stripe's Payment Element in this page: a card payment needs no redirect, so the page (and its token) stays. */
function payByCard(topup) {
  const elements = stripe.elements({ clientSecret: topup.stripe.clientSecret });
  elements.create('payment').mount('#payment-element');
  $('stripe-payment').hidden = false;
  message('Enter your card, then Pay.');
  follow(topup.id);
  const pay = $('stripe-pay');
  pay.disabled = false;
  pay.onclick = async () => {
    pay.disabled = true;
    const returnUrl = location.origin + '/?' + new URLSearchParams({ provider: 'stripe', topup: topup.id });
    const result = await stripe.confirmPayment({ elements, confirmParams: { return_url: returnUrl }, redirect: 'if_required' });
    if (result.error) {
      pay.disabled = false;
      return message('Stripe: ' + (result.error.message || 'the payment did not go through') + ' Nothing was charged.', 'error');
    }
    $('stripe-payment').hidden = true;
    $('topup-start').disabled = false;
    message(RETURN_WORDS.stripe[result.paymentIntent && result.paymentIntent.status === 'processing' ? 'processing' : 'succeeded'][1]);
    // Followed again from here: a declined attempt before may have been reported as failed meanwhile.
    follow(topup.id);
  };
}

function follow(id) {
  followed = id;
  followDone = false;
  polls = 0;
  clearTimeout(followTimer);
  pollTopup();
}

/** A balance push may be this top-up's credit: ask at once rather than at the next poll. */
function followSoon() {
  if (!followed || followDone) return;
  clearTimeout(followTimer);
  followTimer = setTimeout(pollTopup, 50);
}

async function pollTopup() {
  if (!followed || followDone) return;
  const id = followed;
  try {
    const res = await fetch('/api/v1/topups/' + encodeURIComponent(id), { headers });
    if (res.status === 401) return showTopup(null, 'Your session expired: open the dashboard again from the portal to follow this top-up.');
    const body = await res.json();
    if (id !== followed) return;
    if (!body.ok) return showTopup(null, (body.error && body.error.message) || 'This top-up cannot be found.');
    showTopup(body.topup);
    if (followDone) return;
  } catch (e) {
    // The next poll tries again.
  }
  polls++;
  followTimer = setTimeout(pollTopup, polls < 120 ? 1000 : 5000);
}

function showTopup(t, problem) {
  const el = $('topup-status');
  if (!t) {
    followDone = true;
    el.dataset.status = 'unknown';
    el.className = 'error-text';
    el.textContent = problem;
    return;
  }
  const what = 'Top-up of ' + money(t.amount, t.currency) + ' by ' + (PROVIDER_NAMES[t.provider] || t.provider) + ': ';
  let state;
  let text;
  if (t.credited && (t.status === 'succeeded' || t.status === 'pending')) [state, text] = ['credited', 'credited to your wallet.'];
  else if (t.status === 'pending') [state, text] = ['pending', 'pending, waiting for ' + (PROVIDER_SHORT[t.provider] || t.provider) + ' to confirm the payment.'];
  else if (t.status === 'succeeded') [state, text] = ['paid', 'paid, being credited.'];
  else [state, text] = [t.status, t.status.replace(/_/g, ' ') + (t.reason ? ': ' + t.reason : '') + '.'];
  followDone = state !== 'pending' && state !== 'paid';
  el.dataset.status = state;
  el.className = state === 'credited' || state === 'pending' || state === 'paid' ? '' : 'error-text';
  el.textContent = what + text;
}

const returned = readReturn();

/** Called once the top-up page's elements exist: the provider's answer if this is a return, then the form. */
export async function startTopups() {
  if (returned) showReturn(returned);
  settings = await loadSettings();
  if (!token) return offerSignIn(returned, settings);
  setUpTopups();
  if (returned && returned.topup) follow(returned.topup);
}

/** Whether this load is a return from a provider (the portal then opens on the top-up page). */
export const isProviderReturn = returned !== null;

/** Each live balance: the wallet's currency decides what can be paid in, and a credit may be the followed top-up's. */
export function topupsSeeBalance(b) {
  walletCurrencyIs(b.currency || null);
  followSoon();
}
