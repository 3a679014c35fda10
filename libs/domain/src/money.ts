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

/** Display rounding to the currency's minor unit (VND and JPY have none), half-even. */
export function toDisplay(value: Decimal, currency: Currency): string {
  return value.toFixed(minorUnits(currency), Decimal.ROUND_HALF_EVEN);
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

/** An amount with its currency; arithmetic refuses to mix currencies. */
export class Money {
  constructor(readonly amount: Decimal, readonly currency: Currency) {}

  static of(amount: string | Decimal, currency: Currency): Money {
    return new Money(new Decimal(amount), currency);
  }

  plus(other: Money): Money {
    this.assertSameCurrency(other);
    return new Money(this.amount.plus(other.amount), this.currency);
  }

  minus(other: Money): Money {
    this.assertSameCurrency(other);
    return new Money(this.amount.minus(other.amount), this.currency);
  }

  isNegative(): boolean {
    return this.amount.isNegative() && !this.amount.isZero();
  }

  toExact(): string {
    return toExact(this.amount);
  }

  toDisplay(): string {
    return toDisplay(this.amount, this.currency);
  }

  private assertSameCurrency(other: Money): void {
    if (other.currency !== this.currency) {
      throw new Error(`money of ${this.currency} mixed with ${other.currency}`);
    }
  }
}
