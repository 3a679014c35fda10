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
 * The currency lock: a wallet bills in one currency, set by its first credit and fixed for good by
 * its first top-up, and every credit must be in it. Null when a credit in `currency` is accepted,
 * otherwise why it is refused.
 */
export function currencyLockRefusal(billingCurrency: Currency | null, currency: Currency): string | null {
  if (billingCurrency === null || billingCurrency === currency) return null;
  return `the billing currency is ${billingCurrency}, set by the wallet's first credit; every credit must be in ${billingCurrency}, ${currency} is refused`;
}
