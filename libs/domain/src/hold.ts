/**
 * Holds: while a GPU runs, the cost of its current hold period is set aside from the balance, so
 * what an organization may still commit (`available`) already counts the hour its GPUs are in.
 * The resource side owns hold periods (it knows when a resource runs and at what price); the
 * wallet only keeps what each resource says it holds and subtracts it.
 */
import { Currency, CURRENCIES } from './currency';
import { BillingPeriods, Interval } from './lifecycle';
import { Billed, gpuRunCharge } from './metering';
import { Decimal, sum } from './money';
import { PriceBook } from './pricing';

/** What one resource holds at an instant. */
export interface Hold {
  /** The amount held, in each currency asked (the wallet takes its own); empty when nothing is held. */
  readonly amounts: ReadonlyMap<Currency, Decimal>;
  /** The end of the hold period the amount covers; null when nothing is held. */
  readonly untilMs: number | null;
}

export const NO_HOLD: Hold = { amounts: new Map(), untilMs: null };

/**
 * The end of the hold period holding `atMs`, for a run that started at `runStartMs`: hold periods
 * are `[start + k x period, start + (k + 1) x period)`, so a new one begins at each whole period of
 * the run (at its very start, the first).
 */
export function holdPeriodEndMs(runStartMs: number, holdPeriodMs: number, atMs: number): number {
  const k = Math.floor((atMs - runStartMs) / holdPeriodMs);
  return runStartMs + (k + 1) * holdPeriodMs;
}

/**
 * What a resource holds at `nowMs`: the cost of its GPU run going on at `nowMs` from `nowMs` to the
 * end of the current hold period (or to the run's end, if a stop already lies ahead), taken as the
 * run's rounded charge at that end less its rounded charge now. So the hold is exactly what the
 * run will still be charged within the period: when a charge up to a later instant is committed,
 * the hold shrinks by exactly that charge (charges draw from it) and `available` does not move;
 * when the next period begins its whole cost is held; a stop releases what is left (no run, no
 * hold). Storage is not held (it keeps billing while stopped; its own limits are the enforcement
 * ladder's). A hold period of 0 holds nothing.
 */
export function holdAt(periods: BillingPeriods, billed: Billed, prices: PriceBook, nowMs: number, holdPeriodMs: number, currencies: readonly Currency[] = CURRENCIES): Hold {
  if (holdPeriodMs <= 0) return NO_HOLD;
  const run = periods.gpu.find((r) => r.startMs <= nowMs && (r.endMs === null || r.endMs > nowMs));
  if (!run) return NO_HOLD;
  const untilMs = heldUntilMs(run, holdPeriodMs, nowMs);
  const amounts = new Map<Currency, Decimal>();
  for (const currency of currencies) {
    amounts.set(currency, gpuRunCharge(run, billed, prices, currency, untilMs).minus(gpuRunCharge(run, billed, prices, currency, nowMs)));
  }
  return { amounts, untilMs };
}

function heldUntilMs(run: Interval, holdPeriodMs: number, nowMs: number): number {
  const end = holdPeriodEndMs(run.startMs, holdPeriodMs, nowMs);
  return run.endMs === null ? end : Math.min(end, run.endMs);
}

/** What the wallet keeps of one resource's hold: the amount in its own currency, and the end of the period it covers. */
export interface ResourceHold {
  readonly amount: Decimal;
  readonly untilMs: number | null;
}

/** What the wallet holds in all: the sum of its resources' holds in its currency. */
export function totalHeld(holds: Iterable<Decimal>): Decimal {
  return sum(holds);
}

/** What may still be committed: the balance less what is held (negative when the holds exceed it). */
export function availableBalance(balance: Decimal, held: Decimal): Decimal {
  return balance.minus(held);
}
