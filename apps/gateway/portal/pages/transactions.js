// Transactions: the ledger, newest first. The engine pages it oldest first from a cursor (the seq
// of the last entry seen) and seqs count the organization's entries, so the newest page starts at
// the balance's seq minus a page: a page is a range of seqs, shown newest first. The newest page
// follows new entries; a filter by type applies to the page shown, the CSV export to every entry.
// Amounts are the ledger's own, at its scale: a charge of 0.004 is shown as 0.004, not 0.00.
import { useEffect, useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { html } from '../html.js';
import { balance } from '../live.js';
import { useStore } from '../store.js';
import { dateTime, money } from '../format.js';
import { exportCsv } from '../ledger-csv.js';
import { Problem, Table } from './table.js';

const PAGE_SIZE = 50;
const FOLLOW_MS = 3000;
const TYPES = ['topup', 'grant', 'debit', 'expire', 'correction', 'reversal'];

export function TransactionsPage() {
  const b = useStore(balance);
  const latest = b ? Math.max(0, b.seq - PAGE_SIZE) : null;
  /** null: the newest page, following new entries; otherwise the cursor of the page shown. */
  const [cursor, setCursor] = useState(null);
  const [page, setPage] = useState(null);
  const [type, setType] = useState('');
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  const shown = cursor ?? latest;
  useEffect(() => {
    if (shown === null) return;
    api('/api/v1/wallet/ledger?' + query({ cursor: shown, limit: PAGE_SIZE })).then((p) => (setPage(p), setError(null)), setError);
  }, [shown, tick]);
  useEffect(() => {
    if (cursor !== null) return undefined;
    const timer = setInterval(() => setTick((t) => t + 1), FOLLOW_MS);
    return () => clearInterval(timer);
  }, [cursor]);
  const go = (c) => setCursor(latest !== null && c >= latest ? null : Math.max(0, c));
  const entries = page ? page.entries.filter((e) => !type || e.type === type).reverse() : [];
  const rows = entries.map(
    (e) => html`<tr data-testid="ledger-row">
      <td class="num">${e.seq}</td><td>${dateTime(e.at)}</td><td>${e.type}</td>
      <td class="num">${money(e.amount, e.currency)}</td><td class="num">${money(e.totalAfter, e.currency)}</td>
      <td>${e.service || '-'}</td><td>${e.workspaceId || '-'}</td><td>${e.description || e.reference || '-'}</td>
    </tr>`,
  );
  return html`
    <h2>Transactions</h2>
    <div class="form-row">
      <label>Type
        <select data-testid="ledger-type" value=${type} onChange=${(e) => setType(e.currentTarget.value)}>
          <option value="">all</option>
          ${TYPES.map((t) => html`<option value=${t}>${t}</option>`)}
        </select>
      </label>
      <button type="button" class="secondary" data-testid="ledger-csv" onClick=${() => exportCsv(type).catch(setError)}>Export CSV</button>
    </div>
    <${Problem} error=${error} />
    ${page === null && !error ? html`<p class="muted" role="status">Loading...</p>` : null}
    <${Table} label="Ledger entries, newest first" testid="ledger" empty=${type ? 'No ' + type + ' entries on this page.' : 'No entries yet.'} rows=${rows}
      head=${[{ label: 'Seq', num: true }, { label: 'When' }, { label: 'Type' }, { label: 'Amount', num: true }, { label: 'Total after', num: true }, { label: 'Service' }, { label: 'Workspace' }, { label: 'Details' }]} />
    <nav class="pager" aria-label="Ledger pages">
      <button type="button" class="secondary" data-testid="ledger-newest" disabled=${cursor === null} onClick=${() => go(Infinity)}>Newest</button>
      <button type="button" class="secondary" data-testid="ledger-newer" disabled=${cursor === null} onClick=${() => go(shown + PAGE_SIZE)}>Newer</button>
      <button type="button" class="secondary" data-testid="ledger-older" disabled=${!shown} onClick=${() => go(shown - PAGE_SIZE)}>Older</button>
      <button type="button" class="secondary" data-testid="ledger-oldest" disabled=${!shown} onClick=${() => go(0)}>Oldest</button>
      <span class="muted">${cursor === null ? 'newest entries, following new ones' : 'entries ' + (shown + 1) + '-' + (shown + PAGE_SIZE)}</span>
    </nav>
  `;
}
