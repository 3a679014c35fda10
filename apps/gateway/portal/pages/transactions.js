// Transactions: the ledger, oldest first as the engine pages it (cursor = the last seq seen), a
// filter by type over what was loaded, and a CSV export of every entry (of the chosen type).
// Amounts are the ledger's own, at its scale: a charge of 0.004 is shown as 0.004, not 0.00.
import { useEffect, useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { html } from '../html.js';
import { dateTime, money } from '../format.js';
import { Problem, Table } from './table.js';

const PAGE_SIZE = 50;
const TYPES = ['topup', 'grant', 'debit', 'expire', 'correction', 'reversal'];
/** At most this many entries go into one CSV (the engine's largest page, 500, times 40). */
const CSV_MAX_ENTRIES = 20000;
const CSV_COLUMNS = ['seq', 'at', 'type', 'amount', 'currency', 'totalAfter', 'service', 'workspaceId', 'resourceId', 'description', 'reference', 'idempotencyKey'];

function csvCell(value) {
  const text = value == null ? '' : String(value);
  // Quoted always; a leading = + - @ is prefixed so that a spreadsheet never runs a reference as a formula.
  return '"' + (/^[=+\-@]/.test(text) && !/^-?[0-9.]+$/.test(text) ? "'" : '') + text.replace(/"/g, '""') + '"';
}

async function exportCsv(type) {
  const lines = [CSV_COLUMNS.join(',')];
  let cursor = 0;
  for (let n = 0; n < CSV_MAX_ENTRIES; ) {
    const page = await api('/api/v1/wallet/ledger?' + query({ cursor, limit: 500 }));
    for (const e of page.entries) if (!type || e.type === type) lines.push(CSV_COLUMNS.map((c) => csvCell(e[c])).join(','));
    n += page.entries.length;
    if (page.entries.length < 500 || page.nextCursor == null) break;
    cursor = page.nextCursor;
  }
  const url = URL.createObjectURL(new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/csv' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = 'transactions' + (type ? '-' + type : '') + '.csv';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function TransactionsPage() {
  const [cursors, setCursors] = useState([0]);
  const [page, setPage] = useState(null);
  const [type, setType] = useState('');
  const [error, setError] = useState(null);
  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    setPage(null);
    api('/api/v1/wallet/ledger?' + query({ cursor, limit: PAGE_SIZE })).then(setPage, setError);
  }, [cursor]);
  const entries = page ? page.entries.filter((e) => !type || e.type === type) : [];
  const hasNext = page && page.entries.length === PAGE_SIZE && page.nextCursor != null;
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
    <${Table} label="Ledger entries" testid="ledger" empty=${type ? 'No ' + type + ' entries on this page.' : 'No entries yet.'} rows=${rows}
      head=${[{ label: 'Seq', num: true }, { label: 'When' }, { label: 'Type' }, { label: 'Amount', num: true }, { label: 'Total after', num: true }, { label: 'Service' }, { label: 'Workspace' }, { label: 'Details' }]} />
    <nav class="pager" aria-label="Ledger pages">
      <button type="button" class="secondary" disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous</button>
      <span class="muted">page ${cursors.length}</span>
      <button type="button" class="secondary" data-testid="ledger-next" disabled=${!hasNext} onClick=${() => setCursors([...cursors, page.nextCursor])}>Next</button>
    </nav>
  `;
}
