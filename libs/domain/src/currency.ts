/** Billing currencies the engine accepts, with the number of decimals used for display and payments. */
export const CURRENCY_MINOR_UNITS = { USD: 2, VND: 0, JPY: 0 } as const;

export type Currency = keyof typeof CURRENCY_MINOR_UNITS;

export const CURRENCIES = Object.keys(CURRENCY_MINOR_UNITS) as Currency[];

export function isCurrency(value: unknown): value is Currency {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(CURRENCY_MINOR_UNITS, value);
}

export function minorUnits(currency: Currency): number {
  return CURRENCY_MINOR_UNITS[currency];
}

/**
 * The currency lock, the one place it is decided: a wallet bills in one currency, set by its first
 * credit and fixed for good by its first top-up, and every credit must be in it. Null when a
 * credit in `currency` is accepted, otherwise why it is refused. `lockedByTopup` says which of the
 * two set the currency, when the caller knows (the wallet does; the gateway, which refuses a
 * top-up before any money moves, knows only the currency).
 */
export function currencyLockRefusal(billingCurrency: Currency | null, currency: Currency, lockedByTopup?: boolean): string | null {
  if (billingCurrency === null || billingCurrency === currency) return null;
  if (lockedByTopup === true) return `the billing currency is ${billingCurrency}, fixed by the first top-up; ${currency} is refused`;
  if (lockedByTopup === false) return `the wallet already holds credit in ${billingCurrency}; the first top-up and every credit must be in ${billingCurrency}, ${currency} is refused`;
  return `the billing currency is ${billingCurrency}, set by the wallet's first credit; every credit must be in ${billingCurrency}, ${currency} is refused`;
}
