// Auto top-up: the settings in force (GET /api/v1/autotopup), turning it on or changing it (the
// form), turning it off (DELETE), and the history of its attempts, newest first. Amounts are the
// gateway's display strings. The history is read again after a balance push (at most once a
// second): a crossing, and the top-up it makes, show without a reload.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { html } from '../html.js';
import { balance } from '../live.js';
import { useStore } from '../store.js';
import { dateTime, money, runway } from '../format.js';
import { AutoTopupForm } from './autotopup-form.js';
import { Problem, Table } from './table.js';

const RELOAD_AFTER_PUSH_MS = 1000;

const STATUS_WORDS = { charging: 'charging the card', submitted: 'charged', failed: 'failed', skipped: 'skipped' };
const REASON_WORDS = { in_flight: 'another top-up was in flight', per_day_cap: "today's cap reached", per_month_cap: "this month's cap reached", target_reached: 'the target was reached already', below_minimum: 'what the caps left is below the least top-up' };

function triggerWords(s) {
  return s.trigger.runwaySeconds == null ? 'the balance falls below ' + money(s.trigger.amount, s.currency) : 'the runway falls below ' + runway(s.trigger.runwaySeconds);
}

function topupWords(a) {
  if (a.credited) return 'credited';
  return a.topupStatus || '-';
}

function Settings({ s, onOff, busy }) {
  const c = s.currency;
  return html`
    <h3>Settings</h3>
    <div class="card" data-testid="autotopup-settings">
      <p><strong id="autotopup-state" data-testid="autotopup-state" class=${s.enabled ? '' : 'negative'}>${s.enabled ? 'On' : 'Off'}</strong>${s.enabled ? null : html` <span class="muted" data-testid="autotopup-disabled-reason">${s.disabledReason}${s.disabledAt ? ' (' + dateTime(s.disabledAt) + ')' : ''}</span>`}</p>
      <dl>
        <dt>When</dt><dd data-testid="autotopup-trigger">${triggerWords(s)}</dd>
        <dt>Top up to</dt><dd data-testid="autotopup-target">${money(s.target, c)}</dd>
        <dt>At most</dt><dd data-testid="autotopup-caps">${money(s.maxPerTopup, c)} a top-up, ${money(s.maxPerDay, c)} a UTC day, ${money(s.maxPerMonth, c)} a UTC month</dd>
        <dt>Charged to</dt><dd data-testid="autotopup-method">Stripe payment method ${s.paymentMethod.id} (customer ${s.paymentMethod.customer})</dd>
        <dt>Consent</dt><dd data-testid="autotopup-consent-given">given ${dateTime(s.consent.at)} by ${s.consent.by}</dd>
      </dl>
      ${s.enabled ? html`<button type="button" class="secondary" data-testid="autotopup-off" onClick=${onOff} disabled=${busy}>Turn off auto top-up</button>` : null}
    </div>
  `;
}

export function AutoTopupPage() {
  const b = useStore(balance);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [offError, setOffError] = useState(null);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const reload = useRef({ last: 0, timer: null });
  const load = () => {
    reload.current.last = Date.now();
    return api('/api/v1/autotopup').then((r) => (setData(r), setError(null)), setError);
  };
  useEffect(() => {
    load();
    return () => clearTimeout(reload.current.timer);
  }, []);
  // After a balance push: read again, at most once a second.
  const seq = b ? b.seq : null;
  useEffect(() => {
    const r = reload.current;
    if (seq === null || r.timer || r.last === 0) return;
    r.timer = setTimeout(() => {
      r.timer = null;
      load();
    }, Math.max(0, RELOAD_AFTER_PUSH_MS - (Date.now() - r.last)));
  }, [seq]);
  const saved = (autoTopup) => {
    setData({ ...(data || { history: [] }), autoTopup });
    setOffError(null);
    setNote('');
    load();
  };
  const off = async () => {
    setOffError(null);
    setNote('');
    setBusy(true);
    try {
      const r = await api('/api/v1/autotopup', { method: 'DELETE' });
      setData({ ...data, autoTopup: r.autoTopup });
      setNote('Auto top-up is off: nothing more will be charged automatically (a top-up already asked for still completes).');
    } catch (err) {
      setOffError(err);
    } finally {
      setBusy(false);
    }
  };
  const s = data ? data.autoTopup : null;
  const rows = (data ? data.history : []).map(
    (a) => html`
      <tr data-testid="autotopup-history-row" data-status=${a.status}>
        <td>${dateTime(a.createdAt)}</td>
        <td>${STATUS_WORDS[a.status] || a.status}</td>
        <td class="num">${a.amount == null ? '-' : money(a.amount, a.currency)}</td>
        <td>${topupWords(a)}</td>
        <td>${a.reason ? REASON_WORDS[a.reason] || a.reason : ''}</td>
        <td>${a.paymentIntentId || ''}</td>
      </tr>
    `,
  );
  const head = [{ label: 'When' }, { label: 'Attempt' }, { label: 'Amount', num: true }, { label: 'Top-up' }, { label: 'Why' }, { label: 'Stripe payment' }];
  return html`
    <h2>Auto top-up</h2>
    <p class="muted">Keep GPUs running: when the balance (or the runway at the current burn) falls below your trigger, your saved card is charged once, enough to reach the target, never more than your caps, and never while another top-up is still in flight. A failed charge turns auto top-up off and alerts your webhooks.</p>
    ${data === null && !error ? html`<p class="muted" role="status">Loading the auto top-up settings...</p>` : null}
    <${Problem} error=${error} />
    ${s ? html`<${Settings} s=${s} onOff=${off} busy=${busy} />` : data ? html`<p data-testid="autotopup-state">Auto top-up is not set up.</p>` : null}
    <div role="status" data-testid="autotopup-note">${note}</div>
    <${Problem} error=${offError} />
    ${data ? html`<${AutoTopupForm} saved=${s} walletCurrency=${b && b.currency} onSaved=${saved} />` : null}
    <h3>History</h3>
    <${Table} label="Auto top-up history" testid="autotopup-history" empty=${data ? 'No auto top-up yet.' : 'Loading...'} rows=${rows} head=${head} />
  `;
}
