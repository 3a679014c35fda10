// Pay now: the top-up form and the follow-up of a payment, driven by topup-flow.js. Rendered once
// and kept mounted (hidden on other pages), so a payment being followed is not lost on navigation.
import { memo } from 'preact/compat';
import { useEffect } from 'preact/hooks';
import { html } from '../html.js';
import { startTopups } from '../topup-flow.js';

function TopupForm() {
  useEffect(() => {
    startTopups();
  }, []);
  return html`
    <section id="topup-section" aria-labelledby="topup-heading" hidden>
      <h2 id="topup-heading">Pay now</h2>
      <p class="muted">Top-up credit never expires and is used after plan and voucher credit. The first top-up fixes the wallet's currency.</p>
      <div class="card">
        <form id="topup-form" class="form-row" novalidate>
          <label>Pay with <select id="topup-provider" data-testid="topup-provider"></select></label>
          <label>Amount <input id="topup-amount" data-testid="topup-amount" inputmode="decimal" autocomplete="off" size="14" /></label>
          <label>Currency <select id="topup-currency" data-testid="topup-currency"></select></label>
          <button type="submit" id="topup-start" data-testid="topup-start">Top up</button>
        </form>
        <div id="topup-notes" class="muted" data-testid="topup-notes"></div>
        <div id="stripe-payment" hidden>
          <div id="payment-element" data-testid="payment-element"></div>
          <button type="button" id="stripe-pay" data-testid="stripe-pay">Pay</button>
        </div>
        <div id="topup-message" data-testid="topup-message" role="status"></div>
        <div id="topup-status" data-testid="topup-status" data-status="" role="status"></div>
      </div>
    </section>
  `;
}

/** Never re-rendered: topup-flow.js owns these elements' contents. */
export const TopupPage = memo(TopupForm, () => true);

/** The provider's answer and the way back in, above every page (a return lands here without a token). */
export const ReturnBanners = memo(
  () => html`
    <div id="topup-return" class="banner" data-testid="topup-return" role="status" hidden></div>
    <div id="signin" class="banner" data-testid="signin" hidden><span id="signin-text"></span> <a id="signin-link" data-testid="signin-link" hidden>Sign in again</a></div>
  `,
  () => true,
);
