// "Add a card" for auto top-up: POST /api/v1/autotopup/setup (the organization's Stripe customer and a
// SetupIntent for off-session card charges), Stripe's Payment Element for that SetupIntent in this page
// (Stripe.js from where the gateway's settings say), then stripe.confirmSetup without leaving the page
// (redirect: 'if_required'). The card is Stripe's and the customer's until the settings are saved with
// the SetupIntent's id and the consent box ticked: adding a card alone charges nothing.
import { memo } from 'preact/compat';
import { useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { html } from '../html.js';
import { loadSettings } from '../settings.js';
import { Problem } from './table.js';

const STRIPE_JS_TIMEOUT_MS = 10000;

/** Stripe.js (once per page: the top-up page may have loaded it already), or null if it cannot be loaded. */
function loadStripeJs(jsUrl, publishableKey) {
  if (typeof window.Stripe === 'function') return Promise.resolve(window.Stripe(publishableKey));
  return new Promise((resolve) => {
    const script = document.createElement('script');
    const timer = setTimeout(() => resolve(null), STRIPE_JS_TIMEOUT_MS);
    script.src = jsUrl;
    script.async = true;
    script.onload = () => {
      clearTimeout(timer);
      resolve(typeof window.Stripe === 'function' ? window.Stripe(publishableKey) : null);
    };
    script.onerror = () => {
      clearTimeout(timer);
      resolve(null);
    };
    document.head.appendChild(script);
  });
}

/** Where Stripe's frame is mounted: never re-rendered, so the frame Stripe.js puts in it stays. */
const ElementSlot = memo(() => html`<div id="autotopup-card-element" data-testid="autotopup-card-element"></div>`, () => true);

/** `onCard({setupIntentId, paymentMethod, customer})` once Stripe says the card is set up. */
export function AddCard({ onCard, disabled }) {
  const [phase, setPhase] = useState('idle'); // idle, starting, entering, confirming
  const [error, setError] = useState(null);
  const ctx = useRef(null);
  const start = async () => {
    setError(null);
    setPhase('starting');
    try {
      const settings = await loadSettings();
      const stripeProvider = settings && settings.providers.find((p) => p.id === 'stripe');
      const card = stripeProvider && stripeProvider.card;
      if (!card) throw { message: 'Cards cannot be added here: card payments are not set up on this gateway.' };
      const setup = await api('/api/v1/autotopup/setup', { method: 'POST' });
      const stripe = await loadStripeJs(card.jsUrl, setup.publishableKey || card.publishableKey);
      if (!stripe) throw { message: 'Cards cannot be added here: Stripe.js could not be loaded from ' + new URL(card.jsUrl).host + '.' };
      const elements = stripe.elements({ clientSecret: setup.clientSecret });
      elements.create('payment').mount('#autotopup-card-element');
      ctx.current = { stripe, elements, setup };
      setPhase('entering');
    } catch (err) {
      setError({ code: err.code, message: err.message + ' No card was added.' });
      setPhase('idle');
    }
  };
  const confirm = async () => {
    const { stripe, elements, setup } = ctx.current;
    setError(null);
    setPhase('confirming');
    const result = await stripe.confirmSetup({ elements, confirmParams: { return_url: location.origin + '/#/autotopup' }, redirect: 'if_required' });
    const si = result.setupIntent;
    if (result.error || !si || si.status !== 'succeeded') {
      setPhase('entering');
      const why = result.error ? result.error.message || 'the card was not set up.' : 'the card is ' + (si ? si.status.replace(/_/g, ' ') : 'not set up') + '.';
      return setError({ message: 'Stripe: ' + why + ' No card was added.' });
    }
    document.getElementById('autotopup-card-element').textContent = '';
    ctx.current = null;
    setPhase('idle');
    onCard({ setupIntentId: si.id, paymentMethod: typeof si.payment_method === 'string' ? si.payment_method : si.payment_method.id, customer: setup.customerId });
  };
  const entering = phase === 'entering' || phase === 'confirming';
  return html`
    <div data-testid="autotopup-add-card">
      ${entering ? null : html`<button type="button" class="secondary" data-testid="autotopup-add-card-start" onClick=${start} disabled=${disabled || phase === 'starting'}>Add a card</button>`}
      <div hidden=${!entering}>
        <${ElementSlot} />
        <button type="button" data-testid="autotopup-card-confirm" onClick=${confirm} disabled=${phase === 'confirming'}>Save this card</button>
      </div>
      <${Problem} error=${error} />
    </div>
  `;
}
