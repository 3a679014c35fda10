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
