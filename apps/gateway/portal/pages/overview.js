// Billing overview: the balance's three components and their total, what is available and held
// (when the snapshot carries them: engines before holds do not), burn rate and runway, and where
// the organization stands on the enforcement ladder (pages/ladder.js), live.
import { html } from '../html.js';
import { balance } from '../live.js';
import { useStore } from '../store.js';
import { dateTime, isNegative, money, runway, runwayWords } from '../format.js';
import { Ladder } from './ladder.js';

function Card({ id, label, value, negative, note }) {
  return html`
    <div class="card">
      <div class="label" id=${id + '-label'}>${label}</div>
      <div class="value ${negative ? 'negative' : ''}" id=${id} data-testid=${'overview-' + id} aria-labelledby=${id + '-label'}>${value}</div>
      ${note ? html`<div class="muted">${note}</div>` : null}
    </div>
  `;
}

export function OverviewPage() {
  const b = useStore(balance);
  if (!b) return html`<p class="muted" role="status">Waiting for the wallet's balance...</p>`;
  const c = b.currency;
  const exact = b.exact || {};
  // Both or neither: available + held reads as the total shown (the engine apportions them).
  const holds = typeof b.available === 'string' && typeof b.held === 'string';
  return html`
    <h2>Billing overview</h2>
    <${Ladder} b=${b} />
    <div class="grid">
      <${Card} id="balance-total" label="Total" value=${money(b.total, c)} negative=${isNegative(b.total)} note=${html`exact <span id="exact" data-testid="exact">${b.exact.total}</span>`} />
      ${holds
        ? html`
            <${Card} id="available" label="Available" value=${money(b.available, c)} negative=${isNegative(b.available)} note=${html`total less held${exact.available ? html`, exact <span data-testid="exact-available">${exact.available}</span>` : ''}`} />
            <${Card} id="held" label="Held" value=${money(b.held, c)} note=${html`for running GPUs' current hold periods${exact.held ? html`, exact <span data-testid="exact-held">${exact.held}</span>` : ''}`} />
          `
        : null}
      <${Card} id="plan" label="Billing plans" value=${money(b.plan, c)} negative=${isNegative(b.plan)} note="used first" />
      <${Card} id="voucher" label="Vouchers" value=${money(b.voucher, c)} negative=${isNegative(b.voucher)} note="then vouchers" />
      <${Card} id="topup" label="Top-up" value=${money(b.topup, c)} negative=${isNegative(b.topup)} note="then top-up" />
      <${Card} id="burn" label="Burn rate" value=${money(b.burnRatePerHour, c) + '/h'} />
      <${Card} id="runway" label="Runway" value=${runway(b.runwaySeconds)} note=${html`<span data-testid="runway-words">${runwayWords(b.runwaySeconds)}</span>`} />
    </div>
    <p class="muted">Organization <strong>${b.orgId}</strong> · currency ${c || 'not set yet (the first top-up sets it)'} · seq <span id="seq" data-testid="seq">${b.seq}</span> · updated <span id="updated">${dateTime(b.at)}</span></p>
    <p><a class="button" href="#/topup">Pay now</a> <a class="button secondary" href="#/vouchers">Redeem a voucher</a> <a class="button secondary" href="#/autotopup">Auto top-up</a></p>
  `;
}
