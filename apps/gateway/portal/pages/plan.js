// Billing plan: the plan credit of each period (used first), its period, what is left and how much rolls over.
import { html } from '../html.js';
import { balance } from '../live.js';
import { useStore } from '../store.js';
import { dateTime, money } from '../format.js';
import { Table } from './table.js';

export function PlanPage() {
  const b = useStore(balance);
  const plans = (b && b.plans) || [];
  const rows = plans.map(
    (p) => html`<tr data-testid="plan-row">
      <td>${dateTime(p.startsAt)} – ${p.expiresAt ? dateTime(p.expiresAt) : 'no end'}</td>
      <td class="num">${money(p.display, b.currency)}</td>
      <td>${p.rolloverCap == null ? 'none: what is left at the end is written off' : 'up to ' + money(p.rolloverCapDisplay, b.currency) + ' into the next period'}</td>
    </tr>`,
  );
  return html`
    <h2>Billing plan</h2>
    <p class="muted">Plan credit comes with an active subscription (purchased separately) and is used before any other credit.</p>
    ${b ? html`<p>Plan credit left: <strong data-testid="plan-left">${money(b.plan, b.currency)}</strong></p>` : null}
    <${Table} label="Plan periods" testid="plans" empty="No plan credit: this organization has no active billing plan." rows=${rows} head=${[{ label: 'Period' }, { label: 'Credit left', num: true }, { label: 'Rollover' }]} />
  `;
}
