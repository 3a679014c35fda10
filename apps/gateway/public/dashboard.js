// The dashboard's code, a file of its own: the gateway's Content-Security-Policy runs no inline script.
// Amounts arrive as decimal strings already rounded by the engine to the currency's minor unit
// (VND and JPY have none), usage summed per workspace: they are only regrouped here, never
// added, rounded or turned into floating-point numbers.
const SYMBOL = { USD: '$', VND: '₫', JPY: '¥' };
function money(text, currency) {
  if (text == null) return '-';
  const negative = text.startsWith('-');
  const [whole, fraction] = (negative ? text.slice(1) : text).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return (negative ? '-' : '') + (SYMBOL[currency] || '') + grouped + (fraction ? '.' + fraction : '') + (SYMBOL[currency] ? '' : ' ' + (currency || ''));
}
function runway(seconds) {
  if (seconds == null) return '∞';
  if (seconds <= 0) return 'depleted';
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
  return h > 48 ? Math.floor(h / 24) + ' d ' + (h % 24) + ' h' : h + ' h ' + m + ' min';
}
// The token lives in this page's memory only: read from the URL fragment, then taken out of
// the address bar and the history at once (replaceState), never written to storage (older
// versions kept it in localStorage: removed). A reload needs a new link from the portal.
const token = new URLSearchParams(location.hash.slice(1)).get('token');
if (location.hash) history.replaceState(null, '', location.pathname + location.search);
localStorage.removeItem('billingToken');
if (!token) document.getElementById('status').textContent = 'no token: open this page as /#token=<JWT>';
const headers = { Authorization: 'Bearer ' + token };
let shownSeq = -1;
function show(b) {
  if (b.seq < shownSeq) return; // never an older state after a newer one
  shownSeq = b.seq;
  walletCurrencyIs(b.currency || null);
  followSoon();
  document.getElementById('org').textContent = b.orgId;
  document.getElementById('seq').textContent = b.seq;
  document.getElementById('updated').textContent = new Date(b.at).toLocaleTimeString();
  for (const k of ['total', 'plan', 'voucher', 'topup']) {
    const el = document.getElementById(k);
    el.textContent = money(b[k], b.currency);
    el.classList.toggle('negative', b[k].startsWith('-'));
  }
  document.getElementById('exact').textContent = b.exact.total;
  document.getElementById('burn').textContent = money(b.burnRatePerHour, b.currency) + '/h';
  document.getElementById('runway').textContent = runway(b.runwaySeconds);
}
async function refreshTables() {
  try {
    const res = await (await fetch('/api/v1/resources', { headers })).json();
    const running = (res.resources || []).filter((r) => r.status !== 'DELETED');
    document.getElementById('resources').innerHTML = running.length ? running.map((r) =>
      `<tr><td>${r.resourceId}</td><td>${r.workspaceId}</td><td>${r.service}</td><td>${r.sku}</td><td>${r.status}</td><td>${r.runningSince ? new Date(r.runningSince).toLocaleTimeString() : '-'}</td></tr>`).join('') : '<tr><td colspan="6" class="muted">none</td></tr>';
    const to = new Date(), from = new Date(to.getTime() - 30 * 86400000);
    const usage = await (await fetch(`/api/v1/wallet/usage?from=${from.toISOString()}&to=${to.toISOString()}`, { headers })).json();
    // Summed and rounded by the engine, like every amount on this page.
    const workspaces = usage.workspaces || [];
    document.getElementById('usage').innerHTML = workspaces.length ? workspaces.map((w) =>
      `<tr data-testid="usage-row"><td>${w.workspaceId ?? '-'}</td><td class="num">${w.gpuHoursDisplay}</td><td class="num">${money(w.display, usage.currency)}</td></tr>`).join('') : '<tr><td colspan="3" class="muted">none yet</td></tr>';
  } catch (e) { /* the next refresh tries again */ }
}
if (token) {
  const socket = io({ auth: { token } });
  const status = document.getElementById('status');
  let expired = false;
  socket.on('connect', () => { status.textContent = 'connected'; status.className = 'live'; });
  socket.on('disconnect', () => { if (!expired) { status.textContent = 'reconnecting'; status.className = 'down'; } });
  socket.on('connect_error', (e) => { status.textContent = 'refused: ' + e.message; status.className = 'down'; });
  socket.on('balance', show);
  // The gateway closes the socket when the token expires; the HTTP API refuses it too from then on.
  socket.on('token_expired', () => {
    expired = true;
    clearInterval(refresher);
    status.textContent = 'session expired: open the dashboard again from the portal';
    status.className = 'down';
  });
  refreshTables();
  const refresher = setInterval(refreshTables, 3000);
}

// ---- Top-ups: choose a provider and an amount, go to the provider, come back, follow it until credited.
// The page never decides what is paid: it shows what the provider told the browser (checked by the
// gateway: VNPAY's signature, PayPal's capture) and what GET /api/v1/topups/<id> says, which only
// the providers' own confirmations (webhooks, IPN, reconciliation) move. Every text from the
// address or the network goes in through textContent, never as HTML.
const PROVIDER_NAMES = { stripe: 'Card (Stripe)', paypal: 'PayPal', vnpay: 'VNPAY' };
const PROVIDER_SHORT = { stripe: 'Stripe', paypal: 'PayPal', vnpay: 'VNPAY' };
const RETURN_WORDS = {
  paypal: {
    captured: ['ok', 'PayPal took the payment. It is credited as soon as PayPal confirms it to us.'],
    already_captured: ['ok', 'PayPal had already taken this payment. It is credited as soon as PayPal confirms it to us.'],
    capture_pending: ['ok', 'PayPal is reviewing the payment. It is credited once PayPal confirms it.'],
    not_pending: ['ok', 'This top-up was already settled.'],
    declined: ['error', 'PayPal declined the payment method. Nothing was charged: try again, or pay another way.'],
    cancelled: ['error', 'You cancelled at PayPal. Nothing was charged.'],
    not_approved: ['error', 'PayPal says the payment was not approved. Nothing was charged.'],
    unknown_order: ['error', 'This PayPal order is not one of our top-ups.'],
    retry_later: ['error', 'PayPal could not be reached to take the payment. It is taken when PayPal confirms your approval to us; nothing is needed from you.'],
    failed: ['error', 'PayPal refused to take the payment. Nothing was charged.'],
  },
  vnpay: {
    paid: ['ok', 'VNPAY says the payment went through. It is credited when VNPAY confirms it to us directly, not from this page.'],
    cancelled: ['error', 'You cancelled at VNPAY. Nothing was charged.'],
    failed: ['error', 'VNPAY says the payment did not go through. Nothing was charged.'],
    invalid_signature: ['error', 'The return from VNPAY did not verify: it was altered or does not come from VNPAY. Nothing was changed.'],
    unknown_order: ['error', 'This VNPAY payment is not one of our top-ups.'],
    amount_mismatch: ['error', "This VNPAY payment is not of its top-up's amount. Nothing was changed."],
  },
  stripe: {
    succeeded: ['ok', 'Stripe took the payment. It is credited as soon as Stripe confirms it to us.'],
    processing: ['ok', 'Stripe is processing the payment. It is credited once Stripe confirms it.'],
    requires_payment_method: ['error', 'Stripe could not take the payment. Nothing was charged: try again, or pay another way.'],
    failed: ['error', 'Stripe could not take the payment. Nothing was charged.'],
  },
};
const $ = (id) => document.getElementById(id);
let settings = null;
let walletCurrency; // undefined until the first balance, then the wallet's currency or null (none yet)
let stripe = null; // Stripe.js's client, once loaded
let cardUnavailable = null; // why card payments cannot be offered here
let followed = null;
let followDone = false;
let followTimer = null;
let polls = 0;

/** What the provider's return put in the address: `?provider=&result=&topup=` (PayPal, VNPAY, through the gateway) or Stripe's own. */
function readReturn() {
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

function showReturn(r) {
  const [kind, text] = Object.hasOwn(RETURN_WORDS[r.provider], r.result) ? RETURN_WORDS[r.provider][r.result] : ['error', 'The payment page came back with an answer this page does not know.'];
  const banner = $('topup-return');
  banner.className = 'banner ' + kind;
  banner.dataset.result = r.result || '';
  banner.textContent = PROVIDER_NAMES[r.provider] + ': ' + text + (r.code && kind === 'error' ? ' (code ' + r.code + ')' : '');
  banner.hidden = false;
}

/** No token here (the token lives in a page's memory, and the trip to the provider left that page): the portal gives a new one. */
function offerSignIn(r) {
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
if (returned) showReturn(returned);
fetch('/dashboard/settings')
  .then((res) => (res.ok ? res.json() : null))
  .catch(() => null)
  .then((s) => {
    settings = s;
    if (!token) return offerSignIn(returned);
    setUpTopups();
    if (returned && returned.topup) follow(returned.topup);
  });
