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

/** Digits after the point of each currency's minor unit (libs/domain's CURRENCY_MINOR_UNITS). */
const MINOR_DIGITS = { USD: 2, VND: 0, JPY: 0 };

/**
 * An exact amount (at the ledger's scale, "-5.00000000") for display: trailing zeros past the
 * currency's minor unit dropped, never a digit that carries value ("0.00412345" stays).
 */
export function exactMoney(text, currency) {
  if (text == null) return '-';
  const minor = MINOR_DIGITS[currency] ?? 2;
  const [signed, fraction = ''] = text.split('.');
  let digits = fraction.replace(/0+$/, '');
  const whole = /^-0*$/.test(signed + digits) ? signed.slice(1) : signed; // "-0.00": no sign on zero
  if (digits.length < minor) digits = digits.padEnd(minor, '0');
  return money(digits ? whole + '.' + digits : whole, currency);
}

/**
 * An exact amount rounded down to the currency's minor unit, for what is left of something ("at
 * least this much"): the digits past the minor unit cut off, never a number.
 */
export function moneyDown(text, currency) {
  if (text == null) return '-';
  const minor = MINOR_DIGITS[currency] ?? 2;
  const [whole, fraction = ''] = text.split('.');
  return exactMoney(minor ? whole + '.' + fraction.slice(0, minor).padEnd(minor, '0') : whole, currency);
}

/**
 * What a top-up must be to bring a negative exact total back to zero or more: minus the total,
 * rounded up to the currency's minor unit (a payment carries no smaller amount, and rounding down
 * would leave a debt). Integer arithmetic on the decimal digits (BigInt), never a JS number.
 * Null when the total is not negative.
 */
export function payToZero(total, currency) {
  if (typeof total !== 'string' || !/^-[0-9]+(\.[0-9]+)?$/.test(total)) return null;
  const minor = MINOR_DIGITS[currency] ?? 2;
  const [whole, fraction = ''] = total.slice(1).split('.');
  const kept = BigInt(whole + fraction.slice(0, minor).padEnd(minor, '0'));
  const units = /[1-9]/.test(fraction.slice(minor)) ? kept + 1n : kept;
  if (units === 0n) return null;
  const text = units.toString().padStart(minor + 1, '0');
  return minor ? text.slice(0, -minor) + '.' + text.slice(-minor) : text;
}

/** A duration in words for a setting such as a runway mark: "1 h", "10 min", "1 h 30 min", "2 d". */
export function duration(seconds) {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const parts = [d && d + ' d', h && h + ' h', m && m + ' min', s && s + ' s'].filter(Boolean);
  return parts.length ? parts.join(' ') : '0 s';
}

/** Time left until an instant, as a clock: "2 d 03:14:05", "00:04:59"; "00:00:00" once past. */
export function countdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(total / 86400);
  const two = (n) => String(n).padStart(2, '0');
  const clock = two(Math.floor((total % 86400) / 3600)) + ':' + two(Math.floor((total % 3600) / 60)) + ':' + two(total % 60);
  return d ? d + ' d ' + clock : clock;
}
