import { Currency, CURRENCIES, isCurrency } from './currency';
import { Decimal, ZERO } from './money';

const MS_PER_HOUR = 3_600_000;

/** Prices per hour from one instant on: per GPU SKU and per GB of persistent storage, in every billing currency. */
export interface PriceVersion {
  /** From this instant (inclusive) until the next version's; 0 for "since always". */
  readonly effectiveFromMs: number;
  readonly gpu: ReadonlyMap<string, ReadonlyMap<Currency, Decimal>>;
  readonly storagePerGbHour: ReadonlyMap<Currency, Decimal>;
}

const PRICE = /^(0|[1-9][0-9]*)(\.[0-9]{1,8})?$/;

function prices(where: string, value: unknown): Map<Currency, Decimal> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where} must be an object of currency -> price`);
  const out = new Map<Currency, Decimal>();
  for (const [currency, price] of Object.entries(value)) {
    if (!isCurrency(currency)) throw new Error(`${where}: unknown currency ${currency} (known: ${CURRENCIES.join(', ')})`);
    if (typeof price !== 'string' || !PRICE.test(price)) throw new Error(`${where}.${currency} must be a decimal string with at most 8 decimals, got ${JSON.stringify(price)}`);
    out.set(currency, new Decimal(price));
  }
  const missing = CURRENCIES.filter((c) => !out.has(c));
  if (missing.length > 0) throw new Error(`${where} has no price in ${missing.join(', ')}: every billing currency must be priced, or its wallets would go unbilled`);
  return out;
}

/** One version's prices (`{ gpu, storagePerGbHour }`), in force from `effectiveFromMs`; throws on anything that would leave usage unpriced. */
export function parsePriceVersion(where: string, json: unknown, effectiveFromMs: number): PriceVersion {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${where} must be a JSON object`);
  const { gpu, storagePerGbHour } = json as { gpu?: unknown; storagePerGbHour?: unknown };
  if (typeof gpu !== 'object' || gpu === null || Array.isArray(gpu)) throw new Error(`${where} needs "gpu": { sku: { currency: price } }`);
  const skus = new Map<string, Map<Currency, Decimal>>();
  for (const [sku, p] of Object.entries(gpu)) skus.set(sku, prices(`${where}gpu.${sku}`, p));
  if (skus.size === 0) throw new Error(`${where}gpu prices no SKU`);
  return { effectiveFromMs, gpu: skus, storagePerGbHour: prices(`${where}storagePerGbHour`, storagePerGbHour) };
}

/**
 * Reads a price catalog: either one set of prices, in force since always
 * (`{ "gpu": { sku: { USD: "2.50", ... } }, "storagePerGbHour": { USD: "0.0002", ... } }`), or
 * its history (`{ "versions": [ { "effectiveFrom": "2027-01-01T00:00:00Z", "gpu": ..., "storagePerGbHour": ... }, ... ] }`).
 * Throws, naming what is wrong, on anything that would leave usage unpriced.
 */
export function parsePriceCatalog(json: unknown): PriceBook {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('price catalog must be a JSON object');
  const { versions } = json as { versions?: unknown };
  if (versions === undefined) return new PriceBook([parsePriceVersion('', json, 0)]);
  if (!Array.isArray(versions) || versions.length === 0) throw new Error('"versions" must be a non-empty array of { effectiveFrom, gpu, storagePerGbHour }');
  return new PriceBook(
    versions.map((v, i) => {
      const from = (v as { effectiveFrom?: unknown } | null)?.effectiveFrom;
      const ms = typeof from === 'string' ? Date.parse(from) : NaN;
      if (!Number.isFinite(ms) || !/^\d{4}-\d\d-\d\dT/.test(from as string)) throw new Error(`versions[${i}].effectiveFrom must be an ISO-8601 instant, got ${JSON.stringify(from)}`);
      return parsePriceVersion(`versions[${i}].`, v, ms);
    }),
  );
}

/** A version in the catalog's own JSON form (the form it is stored in, and compared by). */
export function priceVersionJson(v: PriceVersion): { gpu: Record<string, Record<string, string>>; storagePerGbHour: Record<string, string> } {
  const currencies = (m: ReadonlyMap<Currency, Decimal>) => Object.fromEntries(CURRENCIES.map((c) => [c, m.get(c)!.toFixed()]));
  return { gpu: Object.fromEntries([...v.gpu.keys()].sort().map((sku) => [sku, currencies(v.gpu.get(sku)!)])), storagePerGbHour: currencies(v.storagePerGbHour) };
}

/** A piece of an interval priced by one version. */
interface Slice {
  readonly version: PriceVersion;
  readonly ms: number;
}

/**
 * Every price the engine has used or will use, by the instant it takes effect. Usage is priced at
 * the prices in force when it happened: a run that spans a price change is priced piece by piece
 * (and rounded once, by the caller, for the whole run). A SKU once priced stays priced in every
 * later version, so a resource that runs across a change is never left without a price.
 */
export class PriceBook {
  readonly versions: readonly PriceVersion[];

  constructor(versions: readonly PriceVersion[]) {
    const sorted = [...versions].sort((a, b) => a.effectiveFromMs - b.effectiveFromMs);
    if (sorted.length === 0) throw new Error('a price book needs at least one version');
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i].effectiveFromMs === sorted[i - 1].effectiveFromMs) throw new Error(`two price versions take effect at ${new Date(sorted[i].effectiveFromMs).toISOString()}`);
      const dropped = [...sorted[i - 1].gpu.keys()].filter((sku) => !sorted[i].gpu.has(sku));
      if (dropped.length > 0) throw new Error(`the price version of ${new Date(sorted[i].effectiveFromMs).toISOString()} drops SKU ${dropped.join(', ')}: a SKU once priced must stay priced`);
    }
    this.versions = sorted;
  }

  /** The version in force at `atMs` (before the first version's instant: the first version). */
  at(atMs: number): PriceVersion {
    let found = this.versions[0];
    for (const v of this.versions) {
      if (v.effectiveFromMs > atMs) break;
      found = v;
    }
    return found;
  }

  /** Whether `sku` has a price (in every currency, from its first version on). */
  knows(sku: string): boolean {
    return this.versions[this.versions.length - 1].gpu.has(sku);
  }

  gpuRatePerHour(sku: string, currency: Currency, atMs: number): Decimal {
    return rate(this.gpuPrices(this.at(atMs), sku), currency, sku);
  }

  storageRatePerGbHour(currency: Currency, atMs: number): Decimal {
    return rate(this.at(atMs).storagePerGbHour, currency, 'storage');
  }

  /** GPU cost of `sku` from `startMs` to `endMs`, unrounded. */
  gpuCost(sku: string, currency: Currency, startMs: number, endMs: number): Decimal {
    let cost = ZERO;
    for (const s of this.slices(startMs, endMs)) cost = cost.plus(rate(this.gpuPrices(s.version, sku), currency, sku).times(s.ms));
    return cost.dividedBy(MS_PER_HOUR);
  }

  /** Storage cost of `storageGb` from `startMs` to `endMs`, unrounded. */
  storageCost(storageGb: number, currency: Currency, startMs: number, endMs: number): Decimal {
    if (storageGb === 0) return ZERO;
    let cost = ZERO;
    for (const s of this.slices(startMs, endMs)) cost = cost.plus(rate(s.version.storagePerGbHour, currency, 'storage').times(s.ms));
    return cost.times(storageGb).dividedBy(MS_PER_HOUR);
  }

  /** A SKU added by a later version is priced, before that version, at its first price. */
  private gpuPrices(version: PriceVersion, sku: string): ReadonlyMap<Currency, Decimal> | undefined {
    return version.gpu.get(sku) ?? this.versions.find((v) => v.gpu.has(sku))?.gpu.get(sku);
  }

  /** `[startMs, endMs)` cut where prices change. */
  private slices(startMs: number, endMs: number): Slice[] {
    const out: Slice[] = [];
    if (endMs <= startMs) return out;
    for (let i = 0; i < this.versions.length; i++) {
      const from = i === 0 ? Number.NEGATIVE_INFINITY : this.versions[i].effectiveFromMs;
      const until = i + 1 < this.versions.length ? this.versions[i + 1].effectiveFromMs : Number.POSITIVE_INFINITY;
      const lo = Math.max(startMs, from);
      const hi = Math.min(endMs, until);
      if (hi > lo) out.push({ version: this.versions[i], ms: hi - lo });
    }
    return out;
  }
}

function rate(prices: ReadonlyMap<Currency, Decimal> | undefined, currency: Currency, what: string): Decimal {
  const price = prices?.get(currency);
  // Catalogs are checked whole at start (every SKU and storage in every currency): a gap here is a bug.
  if (price === undefined) throw new Error(`no price for ${what} in ${currency}`);
  return price;
}

function sameVersion(a: PriceVersion, b: PriceVersion): boolean {
  return JSON.stringify(priceVersionJson(a)) === JSON.stringify(priceVersionJson(b));
}

/**
 * Which versions of a catalog file are new, given those already recorded (which have priced
 * usage, or will). History is never rewritten: a recorded version may not change, and a new one
 * must take effect at least `minNoticeMs` after it is first seen (so every engine process knows
 * it before it applies). The first catalog ever recorded may take effect whenever it says.
 * Throws, naming the version, on anything else.
 */
export function newPriceVersions(recorded: readonly PriceVersion[], file: readonly PriceVersion[], nowMs: number, minNoticeMs: number): PriceVersion[] {
  const at = (ms: number) => (ms === 0 ? 'since always (a catalog without "versions")' : `effective ${new Date(ms).toISOString()}`);
  const fresh: PriceVersion[] = [];
  for (const v of file) {
    const known = recorded.find((r) => r.effectiveFromMs === v.effectiveFromMs);
    if (known) {
      if (!sameVersion(known, v)) throw new Error(`the price version ${at(v.effectiveFromMs)} differs from the one already in use; prices that billed usage cannot change: add a version with a later effectiveFrom`);
      continue;
    }
    if (recorded.length > 0 && v.effectiveFromMs < nowMs + minNoticeMs) {
      throw new Error(
        `the price version ${at(v.effectiveFromMs)} is new but takes effect less than ${Math.round(minNoticeMs / 1000)} s from now; ` +
          'a price change applies from a future instant (give the catalog "versions" with an effectiveFrom), or it would re-price usage already billed',
      );
    }
    fresh.push(v);
  }
  return fresh;
}
