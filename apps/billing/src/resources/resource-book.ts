import { StoredResource } from '@billing/persistence';
import { billingPeriods, BillingPeriods, burnRatePerHour, Currency, Decimal, firstBillableMs, gpuRatePerHour, lastBillableMs, LifecycleEvent, PriceCatalog, Rates, storageRatePerGbHour, ZERO } from '@billing/domain';

/** What the engine knows of one GPU resource (as stored), with the billing periods its events make. */
export interface ResourceRecord extends StoredResource {
  readonly periods: BillingPeriods;
}

export function withEvents(record: StoredResource, events: readonly LifecycleEvent[]): ResourceRecord {
  return { ...record, events, periods: billingPeriods(events) };
}

/** A resource in the book, with the instant from which its charge must be computed again. */
export interface BookEntry {
  readonly record: ResourceRecord;
  /** Days from the one holding this instant up to now are metered at the next meter. */
  readonly meterFromMs: number;
  /** An event (or a restart) changed it since its meter last caught up. */
  readonly pending: boolean;
}

/**
 * The resources that still bill or still have to be settled, by organization: what the ticker
 * walks, and where a wallet finds its burn rate and its running resources.
 */
export class ResourceBook {
  private readonly byOrg = new Map<string, Map<string, BookEntry>>();

  constructor(readonly catalog: PriceCatalog) {}

  get size(): number {
    let n = 0;
    for (const m of this.byOrg.values()) n += m.size;
    return n;
  }

  get(orgId: string, resourceId: string): ResourceRecord | undefined {
    return this.byOrg.get(orgId)?.get(resourceId)?.record;
  }

  entry(orgId: string, resourceId: string): BookEntry | undefined {
    return this.byOrg.get(orgId)?.get(resourceId);
  }

  /**
   * A resource changed from `changedFromMs` on (its earliest new event, or for a resumed
   * resource the last instant its meters reached): its days from then on are metered again.
   */
  put(record: ResourceRecord, changedFromMs: number): void {
    let org = this.byOrg.get(record.orgId);
    if (!org) this.byOrg.set(record.orgId, (org = new Map()));
    const previous = org.get(record.resourceId);
    const start = firstBillableMs(record.periods) ?? changedFromMs;
    const from = Math.max(start, previous ? Math.min(previous.meterFromMs, changedFromMs) : changedFromMs);
    org.set(record.resourceId, { record, meterFromMs: from, pending: true });
  }

  /** Drops the resources of the organizations that match (they moved to another process). */
  forget(matches: (orgId: string) => boolean): void {
    for (const orgId of [...this.byOrg.keys()]) if (matches(orgId)) this.byOrg.delete(orgId);
  }

  orgs(): IterableIterator<string> {
    return this.byOrg.keys();
  }

  /** Resources whose charge can still change: a period is open, or something changed since the last meter. */
  billable(orgId: string): BookEntry[] {
    const out: BookEntry[] = [];
    for (const e of this.byOrg.get(orgId)?.values() ?? []) {
      const p = e.record.periods;
      if (e.pending || p.running || (p.storage && p.storage.endMs === null)) out.push(e);
    }
    return out;
  }

  /**
   * The meter caught up with `entry` at `nowMs`. Next time only the day of `nowMs` onwards is
   * recomputed; a deleted resource whose periods are all over is forgotten (a later event reloads it).
   */
  metered(orgId: string, entry: BookEntry, nowMs: number): void {
    const org = this.byOrg.get(orgId);
    if (!org || org.get(entry.record.resourceId) !== entry) return; // changed meanwhile: stays pending
    const last = lastBillableMs(entry.record.periods);
    if (entry.record.periods.deleted && last !== null && last <= nowMs) {
      org.delete(entry.record.resourceId);
      if (org.size === 0) this.byOrg.delete(orgId);
      return;
    }
    org.set(entry.record.resourceId, { record: entry.record, meterFromMs: Math.max(entry.meterFromMs, nowMs), pending: last !== null && last > nowMs });
  }

  rates(record: ResourceRecord, currency: Currency): Rates | null {
    const gpuPerHour = gpuRatePerHour(this.catalog, record.sku, currency);
    const storagePerGbHour = storageRatePerGbHour(this.catalog, currency);
    if (gpuPerHour === null || storagePerGbHour === null) return null;
    return { gpuPerHour, storagePerGbHour, storageGb: record.storageGb };
  }

  burnRatePerHour(orgId: string, currency: Currency | null): Decimal {
    if (currency === null) return ZERO;
    let rate = ZERO;
    for (const { record } of this.byOrg.get(orgId)?.values() ?? []) {
      const rates = this.rates(record, currency);
      if (rates) rate = rate.plus(burnRatePerHour(record.periods, rates));
    }
    return rate;
  }

  running(orgId: string): { resourceId: string; workspaceId: string; service: string; sku: string }[] {
    const out = [];
    for (const { record: r } of this.byOrg.get(orgId)?.values() ?? []) {
      if (r.periods.running) out.push({ resourceId: r.resourceId, workspaceId: r.workspaceId, service: r.service, sku: r.sku });
    }
    return out;
  }
}
