import { Decimal, roundToLedgerScale, ZERO } from './money';

/**
 * Resource billing (DESIGN.md section 3), as pure functions of the lifecycle events a resource
 * has received. Proration is by the millisecond; each run is priced from its own duration and
 * rounded once, so the charge never depends on how often it was ticked.
 */
export const LIFECYCLE_STATUSES = ['PENDING', 'RUNNING', 'STOPPING', 'STOPPED', 'FAILED', 'DELETED'] as const;
export type LifecycleStatus = (typeof LIFECYCLE_STATUSES)[number];

/** What a GPU resource is, as the control plane names it: fixed for the resource's whole life. */
export interface GpuResource {
  readonly orgId: string;
  readonly resourceId: string;
  readonly workspaceId: string;
  readonly service: string;
  readonly sku: string;
  readonly storageGb: number;
}

export interface LifecycleEvent {
  readonly eventId: string;
  readonly status: LifecycleStatus;
  readonly at: Date;
}

export interface Interval {
  readonly startMs: number;
  /** null while still open. */
  readonly endMs: number | null;
}

export interface BillingPeriods {
  /** GPU runs: from RUNNING to the first of STOPPING, STOPPED, FAILED, DELETED. */
  readonly gpu: readonly Interval[];
  /** Storage: from the first RUNNING to DELETED, also while stopped. */
  readonly storage: Interval | null;
  readonly running: boolean;
  readonly deleted: boolean;
}

const RANK: Record<LifecycleStatus, number> = { PENDING: 0, RUNNING: 1, STOPPING: 2, STOPPED: 3, FAILED: 4, DELETED: 5 };
const MS_PER_HOUR = 3_600_000;

/** Events in the order they happened: by `at`, then by lifecycle rank, then by id (a total order). */
export function compareEvents(a: LifecycleEvent, b: LifecycleEvent): number {
  const t = a.at.getTime() - b.at.getTime();
  if (t !== 0) return t;
  const r = RANK[a.status] - RANK[b.status];
  if (r !== 0) return r;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

/** Whatever order the events arrived in, the periods are those of the events sorted by `at`. */
export function billingPeriods(events: readonly LifecycleEvent[]): BillingPeriods {
  const sorted = [...events].sort(compareEvents);
  const gpu: Interval[] = [];
  let runStart: number | null = null;
  let storageStart: number | null = null;
  let storageEnd: number | null = null;
  let deleted = false;
  for (const e of sorted) {
    if (deleted) break;
    const at = e.at.getTime();
    switch (e.status) {
      case 'RUNNING':
        if (runStart === null) runStart = at;
        if (storageStart === null) storageStart = at;
        break;
      case 'STOPPING':
      case 'STOPPED':
      case 'FAILED':
        if (runStart !== null) gpu.push({ startMs: runStart, endMs: at });
        runStart = null;
        break;
      case 'DELETED':
        if (runStart !== null) gpu.push({ startMs: runStart, endMs: at });
        runStart = null;
        if (storageStart !== null) storageEnd = at;
        deleted = true;
        break;
      case 'PENDING':
        break;
    }
  }
  if (runStart !== null) gpu.push({ startMs: runStart, endMs: null });
  return {
    gpu,
    storage: storageStart === null ? null : { startMs: storageStart, endMs: storageEnd },
    running: runStart !== null,
    deleted,
  };
}

function elapsedMs(interval: Interval, untilMs: number): number {
  const end = interval.endMs === null ? untilMs : Math.min(interval.endMs, untilMs);
  return Math.max(0, end - interval.startMs);
}

export interface Rates {
  readonly gpuPerHour: Decimal;
  readonly storagePerGbHour: Decimal;
  readonly storageGb: number;
}

export interface Metered {
  /** Everything the resource owes for usage up to `untilMs`. */
  readonly amount: Decimal;
  /** GPU time in that amount, in milliseconds. */
  readonly gpuMs: number;
}

/** The cumulative charge of a resource up to `untilMs`: each GPU run and the storage period rounded once. */
export function meteredUntil(periods: BillingPeriods, rates: Rates, untilMs: number): Metered {
  let amount = ZERO;
  let gpuMs = 0;
  for (const run of periods.gpu) {
    const ms = elapsedMs(run, untilMs);
    gpuMs += ms;
    if (ms > 0) amount = amount.plus(roundToLedgerScale(rates.gpuPerHour.times(ms).dividedBy(MS_PER_HOUR)));
  }
  if (periods.storage && rates.storageGb > 0) {
    const ms = elapsedMs(periods.storage, untilMs);
    if (ms > 0) amount = amount.plus(roundToLedgerScale(rates.storagePerGbHour.times(rates.storageGb).times(ms).dividedBy(MS_PER_HOUR)));
  }
  return { amount, gpuMs };
}

/** Charge per hour right now: the GPU while it runs, the storage until the resource is deleted. */
export function burnRatePerHour(periods: BillingPeriods, rates: Rates): Decimal {
  let rate = ZERO;
  if (periods.running) rate = rate.plus(rates.gpuPerHour);
  if (periods.storage && periods.storage.endMs === null) rate = rate.plus(rates.storagePerGbHour.times(rates.storageGb));
  return rate;
}

/** The last instant at which the charge can still grow, or null while a period is open. */
export function lastBillableMs(periods: BillingPeriods): number | null {
  if (periods.running || (periods.storage && periods.storage.endMs === null)) return null;
  let last = periods.storage?.endMs ?? 0;
  for (const run of periods.gpu) last = Math.max(last, run.endMs ?? 0);
  return last;
}

/** Midnight UTC after `ms`: charges are cut there so that each entry's usage lies in one day. */
export function nextUtcMidnightMs(ms: number): number {
  return (Math.floor(ms / 86_400_000) + 1) * 86_400_000;
}

export interface MeterDay {
  /** UTC date, YYYY-MM-DD. */
  readonly day: string;
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * The UTC days from the one holding `fromMs` to the one holding `nowMs`. Each day has a meter
 * of its own: its charge is the cumulative charge at its end (or now) less that at its start,
 * so the days add up exactly to the cumulative charge, and a correction lands on the day of the
 * usage it corrects.
 */
export function meterDays(fromMs: number, nowMs: number): MeterDay[] {
  const days: MeterDay[] = [];
  for (let start = Math.floor(fromMs / 86_400_000) * 86_400_000; start <= nowMs; start += 86_400_000) {
    days.push({ day: new Date(start).toISOString().slice(0, 10), startMs: start, endMs: start + 86_400_000 });
  }
  return days;
}

/** When a resource's usage starts: its first billable instant, or null if it never ran. */
export function firstBillableMs(periods: BillingPeriods): number | null {
  if (periods.storage) return periods.storage.startMs;
  return periods.gpu.length > 0 ? periods.gpu[0].startMs : null;
}
