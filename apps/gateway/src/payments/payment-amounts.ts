import { Currency, Decimal, minorUnits } from '@billing/domain';

/**
 * Providers that count in the currency's smallest unit (Stripe) send integers: cents for USD,
 * whole yen and whole dong (both have no minor unit, for Stripe as for the engine).
 */
export function toMinorUnits(amount: Decimal, currency: Currency): string {
  const minor = amount.times(new Decimal(10).pow(minorUnits(currency)));
  if (!minor.isInteger()) throw new Error(`${amount.toFixed()} ${currency} is not a whole number of the currency's minor unit`);
  return minor.toFixed(0);
}

/** The amount a provider's integer count of minor units stands for; null if it is not a non-negative integer. */
export function fromMinorUnits(minor: unknown, currency: Currency): Decimal | null {
  // Stripe's JSON carries these as numbers; integers below 2^53 are exact, so reading them as text loses nothing.
  const text = typeof minor === 'number' && Number.isSafeInteger(minor) ? String(minor) : typeof minor === 'string' ? minor : null;
  if (text === null || !/^[0-9]{1,20}$/.test(text)) return null;
  return new Decimal(text).dividedBy(new Decimal(10).pow(minorUnits(currency)));
}
