import DecimalJs from 'decimal.js';
import { Currency, minorUnits } from './currency';

/**
 * The one decimal type of the engine. 40 significant digits is far past any amount the ledger
 * holds (numeric(38, 8)), so intermediate results are exact; rounding happens only where a
 * function below names it.
 */
export const Decimal = DecimalJs.clone({ precision: 40, rounding: DecimalJs.ROUND_HALF_EVEN, toExpNeg: -40, toExpPos: 40 });
export type Decimal = InstanceType<typeof Decimal>;

/** Decimal places the ledger keeps (Postgres numeric(38, 8)): enough for per-millisecond GPU proration. */
export const LEDGER_SCALE = 8;

/** Largest amount a single command may move: refuses absurd input long before numeric overflow. */
export const MAX_COMMAND_AMOUNT = new Decimal('1000000000000');

export const ZERO = new Decimal(0);

/** Rounds to the ledger's scale, half-even: the only rounding applied to charges. */
export function roundToLedgerScale(value: Decimal): Decimal {
  return value.toDecimalPlaces(LEDGER_SCALE, Decimal.ROUND_HALF_EVEN);
}

/**
 * Display rounding to the currency's minor unit (VND and JPY have none), half-even: the one
 * place an amount is rounded for people to read. A value that rounds to zero reads unsigned
 * ("0.00", never "-0.00").
 */
export function toDisplay(value: Decimal, currency: Currency): string {
  const rounded = value.toDecimalPlaces(minorUnits(currency), Decimal.ROUND_HALF_EVEN);
  return (rounded.isZero() ? rounded.abs() : rounded).toFixed(minorUnits(currency));
}

/**
 * Display amounts for the parts of a sum that add up to the displayed sum. The total is rounded
 * half-even to the minor unit like any amount; each part is rounded the same way, then the
 * difference between the displayed total and the sum of the rounded parts (a few minor units at
 * most) is given one unit at a time to the parts whose rounding moved them furthest the other
 * way: the largest remainders, ties to the earlier part. So every displayed part is less than
 * one minor unit from its exact value, never of the opposite sign, and a zero part reads zero.
 */
export function apportionForDisplay(parts: readonly Decimal[], currency: Currency): { total: string; parts: string[] } {
  const places = minorUnits(currency);
  const unit = minorUnit(currency);
  const total = sum(parts).toDecimalPlaces(places, Decimal.ROUND_HALF_EVEN);
  const rounded = parts.map((p) => p.toDecimalPlaces(places, Decimal.ROUND_HALF_EVEN));
  const missingUnits = total.minus(sum(rounded)).dividedBy(unit).toNumber();
  if (missingUnits === 0) return { total: toDisplay(total, currency), parts: rounded.map((r) => toDisplay(r, currency)) };
  const step = missingUnits > 0 ? unit : unit.negated();
  // Remainder (exact - rounded) in the direction the units have to go; the largest get a unit first.
  const order = parts
    .map((p, i) => ({ i, remainder: p.minus(rounded[i]).times(Math.sign(missingUnits)) }))
    .sort((a, b) => b.remainder.comparedTo(a.remainder) || a.i - b.i);
  for (let k = 0; k < Math.abs(missingUnits); k++) rounded[order[k].i] = rounded[order[k].i].plus(step);
  return { total: toDisplay(total, currency), parts: rounded.map((r) => toDisplay(r, currency)) };
}

/** The currency's smallest unit as an amount: 0.01 USD, 1 VND, 1 JPY. */
export function minorUnit(currency: Currency): Decimal {
  let unit = MINOR_UNIT.get(currency);
  if (!unit) MINOR_UNIT.set(currency, (unit = new Decimal(1).dividedBy(new Decimal(10).pow(minorUnits(currency)))));
  return unit;
}
/** Worked out once per currency: every balance snapshot needs it. */
const MINOR_UNIT = new Map<Currency, Decimal>();

/** Whether an amount is a whole number of the currency's minor unit, as every payment is (no more decimals than it has). */
export function inMinorUnits(amount: Decimal, currency: Currency): boolean {
  return amount.decimalPlaces() <= minorUnits(currency);
}

/**
 * A payment amount as its text for a provider or the engine: fixed to the currency's minor unit.
 * A payment never has more decimals (top-ups and refunds are refused past the minor unit); were one
 * to, it would be rounded half-even, the engine's default.
 */
export function toPaymentText(amount: Decimal, currency: Currency): string {
  return amount.toFixed(minorUnits(currency), Decimal.ROUND_HALF_EVEN);
}

/**
 * An amount as the whole number of 10^-places units a provider counts in (its minor units, or
 * VNPAY's hundredths of a dong); null when it is not a whole number of them.
 */
export function toUnitCount(amount: Decimal, places: number): string | null {
  const count = amount.times(new Decimal(10).pow(places));
  return count.isInteger() ? count.toFixed(0) : null;
}

/** The amount a provider's count of 10^-places units stands for; null unless the count is text of 1 to 20 digits. */
export function fromUnitCount(count: unknown, places: number): Decimal | null {
  if (typeof count !== 'string' || !/^[0-9]{1,20}$/.test(count)) return null;
  return new Decimal(count).dividedBy(new Decimal(10).pow(places));
}

/**
 * Providers that count in the currency's smallest unit (Stripe) send integers: cents for USD,
 * whole yen and whole dong (both have no minor unit, for Stripe as for the engine).
 */
export function toMinorUnits(amount: Decimal, currency: Currency): string {
  const count = toUnitCount(amount, minorUnits(currency));
  if (count === null) throw new Error(`${amount.toFixed()} ${currency} is not a whole number of the currency's minor unit`);
  return count;
}

/** The amount a provider's integer count of minor units stands for; null if it is not a non-negative integer. */
export function fromMinorUnits(minor: unknown, currency: Currency): Decimal | null {
  // Stripe's JSON carries these as numbers; integers below 2^53 are exact, so reading them as text loses nothing.
  const text = typeof minor === 'number' && Number.isSafeInteger(minor) ? String(minor) : minor;
  return fromUnitCount(text, minorUnits(currency));
}

/** The canonical text form of an exact amount: no exponent, at most LEDGER_SCALE decimals, no trailing zeros. */
export function toExact(value: Decimal): string {
  return value.toFixed();
}

export function decimalPlaces(value: Decimal): number {
  return value.decimalPlaces();
}

/** A sum of decimals, exact. */
export function sum(values: Iterable<Decimal>): Decimal {
  let total = ZERO;
  for (const v of values) total = total.plus(v);
  return total;
}
