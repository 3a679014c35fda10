// Formatting for display. Every amount arrives as a decimal string the engine already rounded
// (`display` fields, balance components) or at the ledger's scale (ledger entries): it is only
// grouped and given its symbol here, never parsed into a number, added or rounded.
const SYMBOL = { USD: '$', VND: '₫', JPY: '¥' };

export function money(text, currency) {
  if (text == null) return '-';
  const negative = text.startsWith('-');
  const [whole, fraction] = (negative ? text.slice(1) : text).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const symbol = SYMBOL[currency];
  return (negative ? '-' : '') + (symbol || '') + grouped + (fraction ? '.' + fraction : '') + (symbol ? '' : currency ? ' ' + currency : '');
}

export function isNegative(text) {
  return typeof text === 'string' && text.startsWith('-');
}

export function runway(seconds) {
  if (seconds == null) return '∞ (nothing running)';
  if (seconds <= 0) return 'depleted';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 48 ? Math.floor(h / 24) + ' d ' + (h % 24) + ' h' : h + ' h ' + m + ' min';
}

/** The runway in words, for the overview: how long the balance lasts at the current burn. */
export function runwayWords(seconds) {
  if (seconds == null) return 'nothing running: no burn';
  if (seconds <= 0) return 'depleted: top up to keep resources running';
  return 'about ' + runway(seconds) + ' at the current burn';
}

export function dateTime(iso) {
  return iso ? new Date(iso).toLocaleString() : '-';
}

export function day(iso) {
  return iso ? new Date(iso).toISOString().slice(0, 10) : '-';
}

export function scope(service) {
  return service ? service + ' only' : 'any service';
}
