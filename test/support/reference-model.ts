import Decimal from 'decimal.js';

/**
 * The reference model of the adversity test: what the engine must have done, computed from what
 * the test sent and the rules as written (README "Resources" and "Decisions", DESIGN.md sections
 * 2 and 3), with arithmetic of its own. It imports nothing from `libs/`: if the engine and this
 * file disagree, one of them misreads the rules, and the test says so rather than agreeing with
 * itself.
 *
 * Three parts: which lifecycle messages are taken (`fateOf`), what a resource owes for the ones
 * taken (`billingPeriods`, `resourceCharge`, `ModelPrices`), and how a wallet spends and gives
 * back credit (`expectedDraws`, `expectedGiveBack`, `alertsOf`), which the checker applies to the
 * ledger entry by entry.
 */

/** Exact decimals of its own (as the bank checker does): 80 digits, half-even where it rounds. */
export const D = Decimal.clone({ precision: 80, rounding: Decimal.ROUND_HALF_EVEN });
export type D = InstanceType<typeof D>;
export const ZERO = new D(0);

const MS_PER_HOUR = 3_600_000;
/** The ledger keeps 8 decimals; a run (or the storage period) is rounded to them once. */
const LEDGER_DECIMALS = 8;
/** An event stamped further ahead of the engine's clock than this is refused. */
export const MAX_FUTURE_MS = 5 * 60_000;
/** An event stamped further back than this is refused. */
export const MAX_PAST_MS = 30 * 86_400_000;

const roundOnce = (x: D): D => x.toDecimalPlaces(LEDGER_DECIMALS, Decimal.ROUND_HALF_EVEN);

// ---- lifecycle messages: which are taken ------------------------------------------------------

export type Status = 'PENDING' | 'RUNNING' | 'STOPPING' | 'STOPPED' | 'FAILED' | 'DELETED';
const STOP_KINDS: ReadonlySet<Status> = new Set<Status>(['STOPPING', 'STOPPED', 'FAILED']);

/** What names a resource; fixed by the first event the engine takes for it. */
export interface Attributes {
  readonly workspaceId: string;
  readonly service: string;
  readonly sku: string;
}

/** A lifecycle message as published (its body), with the instant it was first sent. */
export interface SentEvent extends Attributes {
  readonly eventId: string;
  readonly status: Status;
  readonly atMs: number;
  /** null: the message does not state the disk. */
  readonly storageGb: number | null;
  readonly publishedAtMs: number;
}

export type RefusalCode = 'OUT_OF_RANGE' | 'UNKNOWN_SKU' | 'RESOURCE_MISMATCH';
export type Fate = { readonly taken: true } | { readonly taken: false; readonly code: RefusalCode };

/**
 * Whether the engine takes a message, given the attributes its resource was first taken with
 * (null: the resource is not known). The engine reads a message after it is sent, never before:
 * so a stamp more than 5 min after sending is refused whenever it is read, and so is one more
 * than 30 days before. The test keeps stamps far from both limits (see the adversary), and keeps
 * out the one case whose outcome depends on arrival order (a stop with other attributes, taken
 * only if it arrives while the resource runs): this throws on it, as a bug of the test.
 */
export function fateOf(e: SentEvent, first: Attributes | null, knowsSku: (sku: string) => boolean): Fate {
  if (e.atMs > e.publishedAtMs + MAX_FUTURE_MS) return { taken: false, code: 'OUT_OF_RANGE' };
  if (e.atMs < e.publishedAtMs - MAX_PAST_MS) return { taken: false, code: 'OUT_OF_RANGE' };
  if (first === null) return knowsSku(e.sku) ? { taken: true } : { taken: false, code: 'UNKNOWN_SKU' };
  const differs = e.workspaceId !== first.workspaceId || e.service !== first.service || e.sku !== first.sku;
  if (!differs || e.status === 'DELETED') return { taken: true };
  if (STOP_KINDS.has(e.status)) throw new Error(`event ${e.eventId}: a ${e.status} with other attributes is taken or not depending on arrival order; the adversary must not send it`);
  return { taken: false, code: 'RESOURCE_MISMATCH' };
}

/** The disk billed: what the taken events state (they must agree), 0 if none does. */
export function diskOf(taken: readonly SentEvent[]): number {
  const stated = new Set(taken.filter((e) => e.storageGb !== null).map((e) => e.storageGb as number));
  if (stated.size > 1) throw new Error(`the events state different disks (${[...stated].join(', ')}); the adversary must not send that`);
  return stated.size === 1 ? [...stated][0] : 0;
}

// ---- periods ------------------------------------------------------------------------------------

export interface Periods {
  /** GPU runs, [start, end) in ms. */
  readonly runs: readonly (readonly [number, number])[];
  /** From the first start to DELETED; null if it never started. */
  readonly storage: readonly [number, number] | null;
}

/**
 * The billing periods of a deleted resource, from its taken events, instant by instant:
 * - a start and a stop at the same instant cancel out (a running resource keeps running, a
 *   stopped one stays stopped), but a start there still opens the storage period if not open;
 * - only starts: the run starts (if not running); only stops: the run ends (if running);
 * - DELETED ends the run and the storage period there, and nothing later counts.
 */
export function billingPeriods(events: readonly Pick<SentEvent, 'status' | 'atMs'>[]): Periods {
  const byInstant = new Map<number, Set<Status>>();
  for (const e of events) byInstant.set(e.atMs, (byInstant.get(e.atMs) ?? new Set()).add(e.status));
  const runs: [number, number][] = [];
  let runningSince: number | null = null;
  let storageFrom: number | null = null;
  for (const t of [...byInstant.keys()].sort((a, b) => a - b)) {
    const statuses = byInstant.get(t)!;
    const starts = statuses.has('RUNNING');
    const stops = [...statuses].some((s) => STOP_KINDS.has(s));
    if (starts && storageFrom === null) storageFrom = t;
    if (statuses.has('DELETED')) {
      if (runningSince !== null) runs.push([runningSince, t]);
      return { runs, storage: storageFrom === null ? null : [storageFrom, t] };
    }
    if (starts && !stops && runningSince === null) runningSince = t;
    if (stops && !starts && runningSince !== null) {
      runs.push([runningSince, t]);
      runningSince = null;
    }
  }
  throw new Error('the resource was never deleted: its charge is not final');
}

// ---- prices -------------------------------------------------------------------------------------

interface Version {
  readonly fromMs: number;
  readonly gpu: ReadonlyMap<string, D>;
  readonly storagePerGbHour: D;
}

/** The catalog's prices in one currency, version by version. */
export class ModelPrices {
  private readonly versions: readonly Version[];

  constructor(versions: readonly Version[]) {
    this.versions = [...versions].sort((a, b) => a.fromMs - b.fromMs);
  }

  /** Either form of the catalog file: one set of prices since always, or `{ versions: [...] }`. */
  static fromCatalog(json: any, currency: string): ModelPrices {
    const read = (v: any, fromMs: number): Version => ({
      fromMs,
      gpu: new Map(Object.entries(v.gpu as Record<string, Record<string, string>>).map(([sku, p]) => [sku, new D(p[currency])])),
      storagePerGbHour: new D(v.storagePerGbHour[currency]),
    });
    if (!json.versions) return new ModelPrices([read(json, Number.NEGATIVE_INFINITY)]);
    return new ModelPrices(json.versions.map((v: any) => read(v, Date.parse(v.effectiveFrom))));
  }

  knows(sku: string): boolean {
    return this.versions.every((v) => v.gpu.has(sku));
  }

  /**
   * rate x time over [startMs, endMs), piece by piece: usage at instant t at the latest version
   * in force at t (before the first version: the first). Exact; the caller rounds once.
   */
  private cost(startMs: number, endMs: number, rateOf: (v: Version) => D): D {
    let sum = ZERO;
    this.versions.forEach((v, i) => {
      const from = i === 0 ? Number.NEGATIVE_INFINITY : v.fromMs;
      const until = i + 1 < this.versions.length ? this.versions[i + 1].fromMs : Number.POSITIVE_INFINITY;
      const lo = Math.max(startMs, from);
      const hi = Math.min(endMs, until);
      if (hi > lo) sum = sum.plus(rateOf(v).times(hi - lo));
    });
    return sum.dividedBy(MS_PER_HOUR);
  }

  gpuCost(sku: string, startMs: number, endMs: number): D {
    return this.cost(startMs, endMs, (v) => v.gpu.get(sku)!);
  }

  storageCost(storageGb: number, startMs: number, endMs: number): D {
    return this.cost(startMs, endMs, (v) => v.storagePerGbHour).times(storageGb);
  }
}

/** What a deleted resource owes in all: each run rounded once, plus the storage rounded once. */
export function resourceCharge(sku: string, taken: readonly SentEvent[], prices: ModelPrices): { charge: D; gpuMs: number } {
  const { runs, storage } = billingPeriods(taken);
  let charge = ZERO;
  let gpuMs = 0;
  for (const [start, end] of runs) {
    charge = charge.plus(roundOnce(prices.gpuCost(sku, start, end)));
    gpuMs += end - start;
  }
  const disk = diskOf(taken);
  if (storage && disk > 0) charge = charge.plus(roundOnce(prices.storageCost(disk, storage[0], storage[1])));
  return { charge, gpuMs };
}

// ---- wallet: who pays ---------------------------------------------------------------------------

export type GrantKind = 'plan' | 'voucher' | 'topup';

export interface ModelGrant {
  readonly id: string;
  readonly kind: GrantKind;
  readonly service: string | null;
  readonly expiresAtMs: number | null;
  readonly createdAtMs: number;
  remaining: D;
}

const KIND_ORDER: Record<GrantKind, number> = { plan: 0, voucher: 1, topup: 2 };

/**
 * Consumption order: plan grants by earliest expiry; then vouchers by earliest expiry, a scoped
 * one before an unscoped one on equal expiry; then top-up; within each, oldest first.
 */
export function consumptionOrder(a: ModelGrant, b: ModelGrant): number {
  if (a.kind !== b.kind) return KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
  if (a.kind !== 'topup') {
    const ea = a.expiresAtMs ?? Number.POSITIVE_INFINITY;
    const eb = b.expiresAtMs ?? Number.POSITIVE_INFINITY;
    if (ea !== eb) return ea - eb;
    if (a.kind === 'voucher' && (a.service === null) !== (b.service === null)) return a.service === null ? 1 : -1;
  }
  if (a.createdAtMs !== b.createdAtMs) return a.createdAtMs - b.createdAtMs;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A grant pays only for usage of a service it may serve that ends before its expiry. */
export function mayPay(g: ModelGrant, service: string, usageEndMs: number): boolean {
  if (g.expiresAtMs !== null && g.expiresAtMs <= usageEndMs) return false;
  return g.kind === 'topup' || g.service === null || g.service === service;
}

/**
 * How a charge is drawn: from the grants with credit that may pay, in consumption order; what
 * they cannot pay is `shortfall`, which becomes debt on a top-up grant (see `debtors`).
 */
export function expectedDraws(grants: readonly ModelGrant[], amount: D, service: string, usageEndMs: number): { draws: Map<string, D>; shortfall: D } {
  const draws = new Map<string, D>();
  let left = amount;
  for (const g of grants.filter((x) => x.remaining.greaterThan(0) && mayPay(x, service, usageEndMs)).sort(consumptionOrder)) {
    if (left.isZero()) break;
    const take = D.min(g.remaining, left);
    draws.set(g.id, take.negated());
    left = left.minus(take);
  }
  return { draws, shortfall: left };
}

/**
 * Where a shortfall may go: the top-up grant already in debt, else the newest top-up grant (any
 * of them if several are equally new); an empty list means a new top-up grant is made for it.
 */
export function debtors(grants: readonly ModelGrant[]): ModelGrant[] {
  const topups = grants.filter((g) => g.kind === 'topup');
  const inDebt = topups.filter((g) => g.remaining.isNegative());
  if (inDebt.length > 0) return inDebt;
  const newest = Math.max(...topups.map((g) => g.createdAtMs));
  return topups.filter((g) => g.createdAtMs === newest);
}

/**
 * A correction (a meter charged more than the usage, e.g. before a late stop arrived) gives the
 * excess back to the grants that paid that meter, latest in consumption order first, each at most
 * what it paid.
 */
export function expectedGiveBack(paidBy: ReadonlyMap<string, D>, grants: ReadonlyMap<string, ModelGrant>, amount: D): Map<string, D> | null {
  const back = new Map<string, D>();
  let left = amount;
  const payers = [...paidBy.entries()].filter(([, paid]) => paid.greaterThan(0)).map(([id]) => grants.get(id)!).sort(consumptionOrder).reverse();
  for (const g of payers) {
    if (left.isZero()) break;
    const give = D.min(left, paidBy.get(g.id)!);
    back.set(g.id, give);
    left = left.minus(give);
  }
  return left.isZero() ? back : null;
}

/**
 * What a committed batch announces besides its balance: `depleted` when it takes the total from
 * above zero to zero or below; a `low_balance` for each threshold it crosses downwards (at or
 * above it before, below it after).
 */
export function alertsOf(before: D, after: D, thresholds: readonly D[]): { depleted: boolean; lowBalance: D[] } {
  return {
    depleted: before.greaterThan(0) && after.lessThanOrEqualTo(0),
    lowBalance: thresholds.filter((t) => before.greaterThanOrEqualTo(t) && after.lessThan(t)),
  };
}
