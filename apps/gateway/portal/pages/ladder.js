// Where the organization stands on the enforcement ladder, in plain words, on the overview: the
// steps (warned, new GPUs need available funds, GPUs stopped, storage deletion scheduled, stored
// data deleted) with the current one marked, a live countdown to a scheduled deletion, and what to
// pay to stop it. From the balance snapshot's `ladder` (an engine before it sends none: nothing is
// shown). "New GPUs need available funds" is not a step the engine reports: authorize refuses
// launches per SKU, so the page says it whenever available is zero or less.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { countdown, dateTime, duration, exactMoney, isNegative, money, payToZero, runway } from '../format.js';

const ENGINE_STEPS = ['ok', 'runway_low', 'gpus_stopped', 'storage_deletion_scheduled', 'storage_deleted'];
/** The rungs shown, lowest first; `at` is where each sits among the engine's steps (blocked: between). */
const RUNGS = [
  { id: 'runway_low', at: 1, label: 'Warned: runway low' },
  { id: 'launches_blocked', at: 1.5, label: 'New GPUs need available funds' },
  { id: 'gpus_stopped', at: 2, label: 'GPUs stopped' },
  { id: 'storage_deletion_scheduled', at: 3, label: 'Storage deletion scheduled' },
  { id: 'storage_deleted', at: 4, label: 'Stored data deleted' },
];

const isZero = (text) => /^-?0+(\.0+)?$/.test(text);
const isZeroOrLess = (text) => typeof text === 'string' && (isNegative(text) || isZero(text));
/** Minus an exact amount, as text (a sign, not arithmetic): the total at which storage's debt is at its limit. */
const debtFloor = (limit) => (isZero(limit) ? limit : '-' + limit);

/** Renders again every second while `active` (a countdown is shown). */
function useEverySecond(active) {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(() => setTick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [active]);
}

/** What each rung means for this organization, with its thresholds. */
function rungNote(id, b, l, c) {
  if (id === 'runway_low') return 'the runway falls below a warning mark' + (l.step === 'runway_low' && l.runwayMarkSeconds != null ? ' (now below ' + duration(l.runwayMarkSeconds) + ')' : '');
  if (id === 'launches_blocked') return 'available is zero or less: starting a GPU is refused';
  if (id === 'gpus_stopped') return 'available at or below ' + exactMoney(l.stopAt, c) + ': running GPUs are sent stop commands';
  if (id === 'storage_deletion_scheduled') return 'the total at or below ' + exactMoney(debtFloor(l.storageDebtLimit), c) + ': stored data of stopped resources is deleted after a countdown';
  return 'the countdown ran out unpaid';
}

/** The situation in one or two sentences, and what to do. */
function Situation({ b, l, c, current }) {
  const pay = payToZero(b.exact && b.exact.total, c);
  if (current === 'storage_deleted') {
    return html`<p data-testid="ladder-words">The control plane was asked to delete your resources' stored data: the debt was not paid before the countdown ended.${pay ? html` <a href="#/topup">Top up</a> at least <strong data-testid="ladder-pay">${money(pay, c)}</strong> to bring the total back to zero.` : ''}</p>`;
  }
  if (current === 'storage_deletion_scheduled') {
    const at = l.storageDeletionAt;
    const left = at ? new Date(at).getTime() - Date.now() : null; // read at each render: every second, and on every pushed balance
    return html`
      <p data-testid="ladder-words">
        The stored data of stopped resources will be deleted${at ? html` in <strong data-testid="ladder-countdown">${left > 0 ? countdown(left) : 'moments (the deletion is due)'}</strong>, at ${dateTime(at)}` : ''}.${' '}
        ${pay ? html`<a href="#/topup">Top up</a> at least <strong data-testid="ladder-pay">${money(pay, c)}</strong> to cancel: that is the debt now, and storage keeps billing (${money(b.burnRatePerHour, c)} an hour) until your top-up is in; the countdown stops once the total is back to zero or more.` : html`<a href="#/topup">Top up</a> to bring the total back to zero to cancel it.`}
      </p>
    `;
  }
  if (current === 'gpus_stopped') {
    return html`<p data-testid="ladder-words">Running GPUs have been sent stop commands: available (${money(b.available, c)}) is at or below ${exactMoney(l.stopAt, c)}. Storage goes on billing${l.storageDebtLimit ? ' until the total reaches ' + exactMoney(debtFloor(l.storageDebtLimit), c) + ', when its deletion is scheduled' : ''}. Top up to start GPUs again.</p>`;
  }
  if (current === 'launches_blocked') {
    return html`<p data-testid="ladder-words">New GPUs need available funds: available is ${money(b.available, c)}, so starting one is refused. Running GPUs go on until available reaches ${exactMoney(l.stopAt, c)}, then they are stopped. Top up to launch again.</p>`;
  }
  if (current === 'runway_low') {
    return html`<p data-testid="ladder-words">Warned: at the current burn the balance lasts ${runway(b.runwaySeconds)}${l.runwayMarkSeconds != null ? ', under the ' + duration(l.runwayMarkSeconds) + ' mark' : ''}. Top up or turn on auto top-up to keep GPUs running.</p>`;
  }
  return html`<p data-testid="ladder-words">All clear: GPUs launch and run as usual.</p>`;
}

export function Ladder({ b }) {
  const l = b && b.ladder;
  const known = l && ENGINE_STEPS.includes(l.step);
  useEverySecond(Boolean(known && l.step === 'storage_deletion_scheduled' && l.storageDeletionAt));
  if (!known) return null;
  const c = b.currency;
  const engineAt = ENGINE_STEPS.indexOf(l.step);
  const blocked = isZeroOrLess(b.available);
  const at = Math.max(engineAt, blocked ? 1.5 : 0);
  const current = at === 0 ? 'ok' : RUNGS.find((r) => r.at === at).id;
  const steps = html`
    <ol class="ladder-steps">
      ${RUNGS.map((r) => {
        const state = r.at === at ? 'current' : r.at < at ? 'passed' : 'ahead';
        return html`
          <li class=${state} data-testid=${'ladder-step-' + r.id} data-state=${state} aria-current=${state === 'current' ? 'step' : undefined}>
            <strong>${r.label}</strong>${state === 'current' ? html` <span class="ladder-here">(you are here)</span>` : ''}
            <div class="muted">${rungNote(r.id, b, l, c)}</div>
          </li>
        `;
      })}
    </ol>
  `;
  return html`
    <section class="card ladder" aria-labelledby="ladder-heading" data-testid="ladder" data-step=${current}>
      <h3 id="ladder-heading">Where you stand</h3>
      <${Situation} b=${b} l=${l} c=${c} current=${current} />
      ${current === 'ok' ? html`<details><summary>What happens when funds run low</summary>${steps}</details>` : steps}
    </section>
  `;
}
