import { Currency, CURRENCIES } from './currency';
import { BillingPeriods, Interval } from './lifecycle';
import { Decimal, roundToLedgerScale, ZERO } from './money';
import { PriceBook } from './pricing';
import type { Hold } from './hold';

/**
 * What a resource owes, from its billing periods and the prices in force while they ran.
 * Proration is by the millisecond. Each GPU run, and the storage period, is priced from its own
 * start and rounded once (half-even, to the ledger's scale), so the charge never depends on how
 * often, or in how many pieces, it was computed.
 */
export const DAY_MS = 86_400_000;

/** The UTC date (YYYY-MM-DD) holding `ms`: usage is charged per resource and UTC day. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** What the resource is billed as: its SKU and its disk. */
export interface Billed {
  readonly sku: string;
  readonly storageGb: number;
}

function elapsed(interval: Interval, untilMs: number): { startMs: number; endMs: number } {
  return { startMs: interval.startMs, endMs: Math.max(interval.startMs, interval.endMs === null ? untilMs : Math.min(interval.endMs, untilMs)) };
}

/** The rounded charge of one GPU run, or of the storage period, from its start up to `untilMs`. */
function periodCharge(kind: 'gpu' | 'storage', interval: Interval, billed: Billed, prices: PriceBook, currency: Currency, untilMs: number): Decimal {
  const { startMs, endMs } = elapsed(interval, untilMs);
  if (endMs <= startMs) return ZERO;
  const cost = kind === 'gpu' ? prices.gpuCost(billed.sku, currency, startMs, endMs) : prices.storageCost(billed.storageGb, currency, startMs, endMs);
  return roundToLedgerScale(cost);
}

/** The rounded charge of one GPU run from its start up to `untilMs`: what the run owes by then. */
export function gpuRunCharge(run: Interval, billed: Billed, prices: PriceBook, currency: Currency, untilMs: number): Decimal {
  return periodCharge('gpu', run, billed, prices, currency, untilMs);
}

export interface Metered {
  /** Everything the resource owes for usage up to the instant asked. */
  readonly amount: Decimal;
  /** GPU time in that amount, in milliseconds. */
  readonly gpuMs: number;
}

/** The cumulative charge of a resource up to `untilMs`. */
export function chargeUntil(periods: BillingPeriods, billed: Billed, prices: PriceBook, currency: Currency, untilMs: number): Metered {
  let amount = ZERO;
  let gpuMs = 0;
  for (const run of periods.gpu) {
    const { startMs, endMs } = elapsed(run, untilMs);
    gpuMs += endMs - startMs;
    amount = amount.plus(periodCharge('gpu', run, billed, prices, currency, untilMs));
  }
  if (periods.storage) amount = amount.plus(periodCharge('storage', periods.storage, billed, prices, currency, untilMs));
  return { amount, gpuMs };
}

/** What a resource owes for one UTC day, in the currencies asked (the wallet takes its own). */
export interface DayCharge {
  /** YYYY-MM-DD, UTC. */
  readonly day: string;
  readonly amounts: ReadonlyMap<Currency, Decimal>;
  /** GPU time of the day, up to `untilMs`, in milliseconds. */
  readonly usageMs: number;
  /** The day's end, or now if the day is today. */
  readonly untilMs: number;
}

/**
 * The charge of each UTC day from the one holding `fromMs` to the one holding `nowMs`: the
 * cumulative charge at the day's end (or now) less that at its start. So the days add up exactly
 * to the cumulative charge, and a late event's correction lands on the day of the usage it
 * corrects. Only the periods that overlap a day take part in it (the others cancel out).
 */
export function dayCharges(periods: BillingPeriods, billed: Billed, prices: PriceBook, fromMs: number, nowMs: number, currencies: readonly Currency[] = CURRENCIES): DayCharge[] {
  const out: DayCharge[] = [];
  const all: { kind: 'gpu' | 'storage'; interval: Interval }[] = periods.gpu.map((interval) => ({ kind: 'gpu' as const, interval }));
  if (periods.storage) all.push({ kind: 'storage', interval: periods.storage });
  for (let start = startOfUtcDay(fromMs); start <= nowMs; start += DAY_MS) {
    const untilMs = Math.min(start + DAY_MS, nowMs);
    const overlapping = all.filter(({ interval }) => interval.startMs < untilMs && (interval.endMs === null || interval.endMs > start));
    const amounts = new Map<Currency, Decimal>();
    for (const currency of currencies) {
      let amount = ZERO;
      for (const { kind, interval } of overlapping) {
        amount = amount.plus(periodCharge(kind, interval, billed, prices, currency, untilMs)).minus(periodCharge(kind, interval, billed, prices, currency, start));
      }
      amounts.set(currency, amount);
    }
    let usageMs = 0;
    for (const { kind, interval } of overlapping) if (kind === 'gpu') usageMs += elapsed(interval, untilMs).endMs - elapsed(interval, start).endMs;
    out.push({ day: utcDay(start), amounts, usageMs, untilMs });
  }
  return out;
}

/** Charge per hour at `atMs` in each currency asked: the GPU while it runs, the storage until the resource is deleted. */
export function burnRatesPerHour(periods: BillingPeriods, billed: Billed, prices: PriceBook, atMs: number, currencies: readonly Currency[] = CURRENCIES): Map<Currency, Decimal> {
  const rates = new Map<Currency, Decimal>();
  for (const currency of currencies) {
    let rate = ZERO;
    if (periods.running) rate = rate.plus(prices.gpuRatePerHour(billed.sku, currency, atMs));
    if (periods.storage && periods.storage.endMs === null) rate = rate.plus(prices.storageRatePerGbHour(currency, atMs).times(billed.storageGb));
    rates.set(currency, rate);
  }
  return rates;
}

/**
 * A resource's charges as its resource side computed them, for the wallet to settle: the days to
 * set (what each owes, in every currency) and what the resource burns now. The wallet decides
 * only the money: the difference from what each day's meter already charged.
 */
export interface ResourceCharge {
  readonly resourceId: string;
  readonly workspaceId: string;
  readonly service: string;
  readonly sku: string;
  readonly days: readonly DayCharge[];
  readonly ratesPerHour: ReadonlyMap<Currency, Decimal>;
  readonly running: boolean;
  /** What the resource holds now against the balance (see `holdAt`), in the same currencies. */
  readonly hold: Hold;
}

/** An organization's burn rate: the sum of its resources' hourly rates in its currency (zero before it has one). */
export function totalBurnRatePerHour(charges: Iterable<ResourceCharge>, currency: Currency | null): Decimal {
  let rate = ZERO;
  if (currency) for (const c of charges) rate = rate.plus(c.ratesPerHour.get(currency) ?? ZERO);
  return rate;
}

/** Whether a resource's latest charge still counts towards the burn: running, or a rate (storage) still billing. */
export function stillBurning(charge: ResourceCharge): boolean {
  return charge.running || [...charge.ratesPerHour.values()].some((r) => !r.isZero());
}
