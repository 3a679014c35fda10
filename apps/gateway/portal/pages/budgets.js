// Workspace budgets: each workspace's spend this UTC month against its monthly cap (a bar and the
// figures, 80% reached, cap used up), and setting or removing a cap (PUT /api/v1/budgets). Amounts
// are the engine's strings; a cap is sent as typed and the engine says what is wrong with it.
// The spend moves with every charge: read again after balance pushes, at most every few seconds.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { html } from '../html.js';
import { balance } from '../live.js';
import { useStore } from '../store.js';
import { money, moneyDown } from '../format.js';
import { Problem, Table } from './table.js';

const REREAD_MS = 3000;

/** The bar's filled share, 0 to 100, for pixels only: the figures beside it are the strings. */
function filledPercent(spent, cap) {
  const ratio = Number(spent) / Number(cap);
  if (!(ratio >= 0)) return 100; // a cap of zero is used up from the start
  return Math.min(100, ratio * 100);
}

function standingOf(w) {
  if (w.cap === null) return { id: 'none', words: 'no cap' };
  if (w.exhausted) return { id: 'exhausted', words: 'cap used up: new GPUs in this workspace are refused' };
  if (w.reached) return { id: 'reached', words: w.reached + '% of the cap reached' };
  return { id: 'ok', words: 'within the cap' };
}

function Row({ w, c, onRemove, busy }) {
  const s = standingOf(w);
  const percent = w.cap === null ? 0 : filledPercent(w.spentThisMonth, w.cap);
  return html`
    <tr data-testid="budget-row" data-workspace=${w.workspaceId} data-standing=${s.id}>
      <td>${w.workspaceId}</td>
      <td class="num" data-testid="budget-spent">${money(w.spentDisplay, c)}</td>
      <td class="num" data-testid="budget-cap">${w.cap === null ? 'no cap' : money(w.capDisplay, c)}</td>
      <td class="num" data-testid="budget-remaining">${w.remaining === null ? '-' : moneyDown(w.remaining, c)}</td>
      <td class="budget-bar-cell">
        ${w.cap === null
          ? null
          : html`<div class="budget-bar ${s.id}" role="img" aria-label=${money(w.spentDisplay, c) + ' of ' + money(w.capDisplay, c)}><div style=${'width:' + Math.round(percent * 10) / 10 + '%'}></div></div>`}
      </td>
      <td class="budget-standing ${s.id}" data-testid="budget-standing">${s.words}</td>
      <td>${w.cap === null ? null : html`<button type="button" class="secondary" disabled=${busy} onClick=${() => onRemove(w.workspaceId)} aria-label=${'Remove the cap of ' + w.workspaceId}>Remove cap</button>`}</td>
    </tr>
  `;
}

function CapForm({ c, workspaces, busy, onSave }) {
  const [workspaceId, setWorkspaceId] = useState('');
  const [cap, setCap] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    if (await onSave(workspaceId.trim(), cap.trim())) setCap('');
  };
  return html`
    <form class="card form-row" onSubmit=${submit} aria-labelledby="budget-form-heading" novalidate>
      <h3 id="budget-form-heading" class="visually-hidden">Set a workspace's monthly cap</h3>
      <label>Workspace
        <input data-testid="budget-workspace" value=${workspaceId} onInput=${(e) => setWorkspaceId(e.currentTarget.value)} list="budget-workspaces" autocomplete="off" spellcheck="false" size="16" />
      </label>
      <datalist id="budget-workspaces">${workspaces.map((id) => html`<option value=${id}></option>`)}</datalist>
      <label>Monthly cap${c ? ' (' + c + ')' : ''}
        <input data-testid="budget-cap-input" value=${cap} onInput=${(e) => setCap(e.currentTarget.value)} inputmode="decimal" autocomplete="off" size="12" placeholder="500.00" />
      </label>
      <button type="submit" data-testid="budget-save" disabled=${busy}>Set cap</button>
    </form>
  `;
}

export function BudgetsPage() {
  const b = useStore(balance);
  const [reply, setReply] = useState(null);
  const [error, setError] = useState(null);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const lastRead = useRef(0);
  const c = reply ? reply.currency : b && b.currency;
  const read = () => {
    lastRead.current = Date.now();
    return api('/api/v1/budgets').then(setReply, setError);
  };
  useEffect(() => void read(), []);
  // A push means the ledger moved: read again, no more often than REREAD_MS.
  const seq = b ? b.seq : null;
  useEffect(() => {
    if (seq === null || lastRead.current === 0) return undefined;
    const timer = setTimeout(read, Math.max(0, lastRead.current + REREAD_MS - Date.now()));
    return () => clearTimeout(timer);
  }, [seq]);

  const change = async (workspaceId, monthlyCap, done) => {
    setError(null);
    setNote('');
    setBusy(true);
    try {
      const next = await api('/api/v1/budgets', { method: 'PUT', body: { workspaceId, monthlyCap } });
      setReply(next);
      setNote(done(next.budgets.find((w) => w.workspaceId === workspaceId), next.currency));
      return true;
    } catch (err) {
      setError({ code: err.code, message: err.message.replace(/[^.!?]$/, '$&.') + ' Nothing was changed.' });
      return false;
    } finally {
      setBusy(false);
    }
  };
  const save = (workspaceId, cap) => {
    if (!workspaceId) return (setError({ message: 'Enter the workspace whose cap to set. Nothing was changed.' }), false);
    if (!cap) return (setError({ message: 'Enter a monthly cap such as 500.00 (use "Remove cap" to take a cap off). Nothing was changed.' }), false);
    return change(workspaceId, cap, (w, cur) => 'Saved: ' + workspaceId + ' is capped at ' + money(w ? w.capDisplay : cap, cur) + ' a month.');
  };
  const remove = (workspaceId) => change(workspaceId, null, () => 'Removed the cap of ' + workspaceId + '.');

  const rows = reply ? reply.budgets : [];
  return html`
    <h2>Workspace budgets</h2>
    <p class="muted">
      Each workspace may have a monthly cap on what it spends (UTC calendar month${reply ? ', now ' + reply.month : ''}). At 80% and at the cap you are alerted;
      once a workspace's spend reaches its cap, new GPUs in that workspace are refused until the month turns or the cap is raised. Running GPUs are not stopped by a cap, and other workspaces are not affected.
    </p>
    <${CapForm} c=${c} workspaces=${rows.map((w) => w.workspaceId)} busy=${busy} onSave=${save} />
    <div role="status" data-testid="budget-saved">${note}</div>
    <${Problem} error=${error} />
    ${reply === null && !error ? html`<p class="muted" role="status">Loading...</p>` : null}
    <h3>This month</h3>
    <${Table} label="Workspace spend this month against its cap" testid="budgets" empty="No workspace has a cap or spent anything this month."
      head=${[{ label: 'Workspace' }, { label: 'Spent', num: true }, { label: 'Monthly cap', num: true }, { label: 'Left', num: true }, { label: 'Against the cap' }, { label: 'Standing' }, { label: 'Change' }]}
      rows=${rows.map((w) => html`<${Row} w=${w} c=${c} busy=${busy} onRemove=${remove} />`)} />
  `;
}
