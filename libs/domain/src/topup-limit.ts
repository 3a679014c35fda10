/** The daily top-up limit: what an organization may start in a currency within a sliding window. */
import { Decimal, ZERO } from './money';

/** Whether a top-up of `amount` keeps what was started in the window at or below `dailyMax`. */
export function fitsDailyLimit(startedInWindow: Decimal, amount: Decimal, dailyMax: Decimal): boolean {
  return startedInWindow.plus(amount).lessThanOrEqualTo(dailyMax);
}

/** What may still be started in the window (never below zero). */
export function leftInDailyLimit(startedInWindow: Decimal, dailyMax: Decimal): Decimal {
  return Decimal.max(ZERO, dailyMax.minus(startedInWindow));
}
