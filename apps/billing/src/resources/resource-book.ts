import { billingPeriods, BillingPeriods, burnRatePerHour, Currency, Decimal, gpuRatePerHour, LifecycleEvent, PriceCatalog, Rates, storageRatePerGbHour, ZERO } from '@billing/domain';

/** What the engine knows of one GPU resource: who it belongs to, what it is, what happened to it. */
export interface ResourceRecord {
  readonly orgId: string;
  readonly resourceId: string;
  readonly workspaceId: string;
  readonly service: string;
  readonly sku: string;
  readonly storageGb: number;
  readonly events: readonly LifecycleEvent[];
  readonly periods: BillingPeriods;
}

export function withEvents(record: Omit<ResourceRecord, 'periods'>, events: readonly LifecycleEvent[]): ResourceRecord {
  return { ...record, events, periods: billingPeriods(events) };
}

/**
 * The resources that still bill or still have to be settled, by organization: what the ticker
 * walks, and where a wallet finds its burn rate and its running resources.
 */
export class ResourceBook {
  private readonly byOrg = new Map<string, Map<string, ResourceRecord>>();
  /** Resources changed since their meter last caught up with them. */
  private readonly dirty = new Map<string, Set<string>>();

  constructor(readonly catalog: PriceCatalog) {}

  get size(): number {
    let n = 0;
    for (const m of this.byOrg.values()) n += m.size;
    return n;
  }

  get(orgId: string, resourceId: string): ResourceRecord | undefined {
    return this.byOrg.get(orgId)?.get(resourceId);
  }

  put(record: ResourceRecord): void {
    let org = this.byOrg.get(record.orgId);
    if (!org) this.byOrg.set(record.orgId, (org = new Map()));
    org.set(record.resourceId, record);
    let d = this.dirty.get(record.orgId);
    if (!d) this.dirty.set(record.orgId, (d = new Set()));
    d.add(record.resourceId);
  }

  orgs(): IterableIterator<string> {
    return this.byOrg.keys();
  }

  /** Resources whose charge can still change: a period is open, or an event came since the last meter. */
  billable(orgId: string): ResourceRecord[] {
    const org = this.byOrg.get(orgId);
    if (!org) return [];
    const dirty = this.dirty.get(orgId);
    const out: ResourceRecord[] = [];
    for (const r of org.values()) {
      if (r.periods.running || (r.periods.storage && r.periods.storage.endMs === null) || dirty?.has(r.resourceId)) out.push(r);
    }
    return out;
  }

  /** The meter caught up with the resource; a deleted one is forgotten (a later event reloads it). */
  settled(orgId: string, resourceId: string, changedSince: ResourceRecord): void {
    const current = this.get(orgId, resourceId);
    if (current !== changedSince) return;
    this.dirty.get(orgId)?.delete(resourceId);
    if (current.periods.deleted) {
      const org = this.byOrg.get(orgId)!;
      org.delete(resourceId);
      if (org.size === 0) {
        this.byOrg.delete(orgId);
        this.dirty.delete(orgId);
      }
    }
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
    for (const r of this.byOrg.get(orgId)?.values() ?? []) {
      const rates = this.rates(r, currency);
      if (rates) rate = rate.plus(burnRatePerHour(r.periods, rates));
    }
    return rate;
  }

  running(orgId: string): { resourceId: string; workspaceId: string; service: string; sku: string }[] {
    const out = [];
    for (const r of this.byOrg.get(orgId)?.values() ?? []) {
      if (r.periods.running) out.push({ resourceId: r.resourceId, workspaceId: r.workspaceId, service: r.service, sku: r.sku });
    }
    return out;
  }
}
