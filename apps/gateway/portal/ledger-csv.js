// The ledger as CSV, every entry (of one type, or all), oldest first, in the engine's own strings.
import { api, query } from './api.js';

/** The engine's largest page. */
const CSV_PAGE = 500;
/** At most this many entries go into one file. */
const CSV_MAX_ENTRIES = 20000;
const CSV_COLUMNS = ['seq', 'at', 'type', 'amount', 'currency', 'totalAfter', 'service', 'workspaceId', 'resourceId', 'description', 'reference', 'idempotencyKey'];

function csvCell(value) {
  const text = value == null ? '' : String(value);
  // Quoted always; a text starting with = + - @ (other than a number) is prefixed so that a spreadsheet never runs it as a formula.
  return '"' + (/^[=+\-@]/.test(text) && !/^-?[0-9.]+$/.test(text) ? "'" : '') + text.replace(/"/g, '""') + '"';
}

export async function exportCsv(type) {
  const lines = [CSV_COLUMNS.join(',')];
  let cursor = 0;
  for (let n = 0; n < CSV_MAX_ENTRIES; ) {
    const page = await api('/api/v1/wallet/ledger?' + query({ cursor, limit: CSV_PAGE }));
    for (const e of page.entries) if (!type || e.type === type) lines.push(CSV_COLUMNS.map((c) => csvCell(e[c])).join(','));
    n += page.entries.length;
    if (page.entries.length < CSV_PAGE || page.nextCursor == null) break;
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
