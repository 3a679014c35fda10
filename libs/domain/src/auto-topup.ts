/**
 * Safe auto top-up: when a crossing happens and how much one top-up may be. Pure: the gateway
 * reads what was already charged today and this month under a lock and asks these functions.
 */
import { Currency } from './currency';
import { Decimal, minorUnit, ZERO } from './money';

/** What starts an auto top-up: the exact total, or the runway, going below a mark. */
export type AutoTopupTrigger = { readonly kind: 'amount'; readonly amount: Decimal } | { readonly kind: 'runway'; readonly seconds: number };

/** Where the balance stands: its exact total and its runway (null: nothing is burning, so no end in sight). */
export interface BalancePoint {
  readonly exactTotal: Decimal;
  readonly runwaySeconds: number | null;
}

export interface AutoTopupCaps {
  readonly maxPerTopup: Decimal;
  readonly maxPerDay: Decimal;
  readonly maxPerMonth: Decimal;
}

/** Whether the balance is below the trigger. A runway of null (nothing burning) is never below. */
export function isBelowTrigger(trigger: AutoTopupTrigger, point: BalancePoint): boolean {
  if (trigger.kind === 'amount') return point.exactTotal.lessThan(trigger.amount);
  return point.runwaySeconds !== null && point.runwaySeconds < trigger.seconds;
}

export type AutoTopupSize =
  | { readonly kind: 'charge'; readonly amount: Decimal }
  /** Nothing to charge: the target is reached already, or a cap (or the minimum) leaves too little. */
  | { readonly kind: 'skip'; readonly reason: 'target_reached' | 'per_day_cap' | 'per_month_cap' | 'below_minimum' };

/**
 * One top-up's amount: what brings the exact total to the target, rounded up to the currency's
 * minor unit (a payment cannot carry more decimals, and rounding down would stop short of the
 * target), then at most the per-top-up cap and what today's and this month's caps have left.
 * `chargedToday` and `chargedThisMonth` are the auto top-ups already asked for in the UTC day and
 * month that did not fail. Below `minimum` (the provider's or the gateway's least top-up) nothing
 * is charged.
 */
export function autoTopupSize(input: {
  readonly target: Decimal;
  readonly exactTotal: Decimal;
  readonly currency: Currency;
  readonly caps: AutoTopupCaps;
  readonly chargedToday: Decimal;
  readonly chargedThisMonth: Decimal;
  readonly minimum: Decimal;
}): AutoTopupSize {
  const unit = minorUnit(input.currency);
  const missing = input.target.minus(input.exactTotal);
  if (missing.lessThanOrEqualTo(ZERO)) return { kind: 'skip', reason: 'target_reached' };
  const toTarget = missing.dividedBy(unit).toDecimalPlaces(0, Decimal.ROUND_CEIL).times(unit);
  const leftToday = Decimal.max(ZERO, input.caps.maxPerDay.minus(input.chargedToday));
  const leftThisMonth = Decimal.max(ZERO, input.caps.maxPerMonth.minus(input.chargedThisMonth));
  const amount = Decimal.min(toTarget, input.caps.maxPerTopup, leftToday, leftThisMonth);
  if (amount.lessThanOrEqualTo(ZERO) || amount.lessThan(input.minimum)) {
    // Whichever cap bound it is why nothing is charged (the day's first, as it is the one that comes back sooner).
    if (amount.equals(leftToday) && leftToday.lessThan(toTarget)) return { kind: 'skip', reason: 'per_day_cap' };
    if (amount.equals(leftThisMonth) && leftThisMonth.lessThan(toTarget)) return { kind: 'skip', reason: 'per_month_cap' };
    return { kind: 'skip', reason: 'below_minimum' };
  }
  return { kind: 'charge', amount };
}

/** The first instant of the UTC day and of the UTC month of `at`: the caps' periods. */
export function autoTopupPeriods(at: Date): { readonly dayStart: Date; readonly monthStart: Date } {
  return {
    dayStart: new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate())),
    monthStart: new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1)),
  };
}

/** The idempotency key of the one top-up a crossing may make: the organization and the seq at which it crossed. */
export function autoTopupKey(orgId: string, crossingSeq: number): string {
  return `autotopup:${orgId}:${crossingSeq}`;
}
