import { Behavior } from '@billing/actors';
import { ErrorCode, LifecycleMessage } from '@billing/contracts';
import { applyLifecycle, billedStorageGb, burnRatesPerHour, CURRENCIES, Currency, dayCharges, holdAt, isCurrency, LifecycleLimits, PriceBook, ResourceCharge, ResourceRecord, settled } from '@billing/domain';
import { ResourceRepository } from '@billing/persistence';

export type LifecycleOutcome =
  | { readonly kind: 'applied'; readonly note?: string }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'rejected'; readonly code: string; readonly reason: string }
  | { readonly kind: 'retry'; readonly reason: string };

export type ResourceMessage =
  | { readonly kind: 'lifecycle'; readonly event: LifecycleMessage; readonly done: (outcome: LifecycleOutcome) => void }
  /** Bring the charges up to now. */
  | { readonly kind: 'tick' }
  /** The record as just read by a resume (saves reading it again). */
  | { readonly kind: 'resume'; readonly record: ResourceRecord };

/** What the wallet answered a meter: settled (in its currency), waiting for a billing currency, or not (retry later). */
export type MeterAnswer = { readonly ok: true; readonly currency: string } | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

export interface ResourceActorDeps {
  readonly repository: Pick<ResourceRepository, 'find' | 'save' | 'setRecomputeFrom'>;
  readonly prices: () => PriceBook;
  readonly limits: Omit<LifecycleLimits, 'knowsSku'>;
  /** The length of a hold period (HOLD_MINUTES): while the GPU runs, the rest of the current one is held. */
  readonly holdPeriodMs: number;
  readonly now: () => number;
  /** The epoch this process holds the organization's partition with, or null if it does not serve it (now). */
  readonly fence: (orgId: string) => number | null;
  /** A write was fenced off: another process took the partition. */
  readonly fenced: (orgId: string) => void;
  /** Has the wallet settle the charges; resolves with its answer once committed (or refused). */
  readonly meter: (orgId: string, charge: ResourceCharge) => Promise<MeterAnswer>;
  /** Whether the resource still has charges to settle (the ticker's index). */
  readonly billable: (orgId: string, resourceId: string, billable: boolean) => void;
}

/**
 * One GPU resource: the owner of its billing periods. It takes its lifecycle events (dedupe by
 * eventId; periods from their `at`, whatever order they came in), stores them with the instant
 * from which its charges must be computed again, then computes those charges and has the wallet
 * settle them. A lifecycle message is answered only once all that is committed; a charge that
 * did not commit leaves the resource to recompute, so the next tick (or redelivery, or restart)
 * settles it.
 */
export class ResourceActor implements Behavior<ResourceMessage> {
  /** undefined: not read yet; null: no such resource yet. */
  private record: ResourceRecord | null | undefined = undefined;
  /** The wallet's billing currency once it has told it (it never changes): charges are priced in it alone. */
  private currency: Currency | null = null;

  constructor(private readonly orgId: string, private readonly resourceId: string, private readonly deps: ResourceActorDeps) {}

  async receive(batch: ResourceMessage[]): Promise<void> {
    const lifecycle = batch.filter((m): m is Extract<ResourceMessage, { kind: 'lifecycle' }> => m.kind === 'lifecycle');
    const answer = (outcome: (m: (typeof lifecycle)[number]) => LifecycleOutcome) => lifecycle.forEach((m) => m.done(outcome(m)));
    const epoch = this.deps.fence(this.orgId);
    if (epoch === null) {
      this.record = undefined;
      answer(() => ({ kind: 'retry', reason: `organization ${this.orgId} is not served here now` }));
      return;
    }
    if (this.record === undefined) {
      const resumed = batch.find((m): m is Extract<ResourceMessage, { kind: 'resume' }> => m.kind === 'resume');
      this.record = resumed ? resumed.record : await this.deps.repository.find(this.orgId, this.resourceId);
    }
    const nowMs = this.deps.now();
    const prices = this.deps.prices();
    const limits: LifecycleLimits = { ...this.deps.limits, knowsSku: (sku) => prices.knows(sku) };
    let record = this.record;
    const outcomes = new Map<ResourceMessage, LifecycleOutcome>();
    for (const m of lifecycle) {
      const d = applyLifecycle(record, this.orgId, this.resourceId, { ...m.event }, nowMs, limits);
      if (d.kind === 'applied') {
        record = d.record;
        outcomes.set(m, d.note ? { kind: 'applied', note: d.note } : { kind: 'applied' });
      } else outcomes.set(m, d.kind === 'duplicate' ? d : { kind: 'rejected', code: ErrorCode[d.code], reason: d.reason });
    }
    if (record !== this.record && record !== null) {
      if (!(await this.deps.repository.save(record, epoch))) return this.lostPartition(lifecycle);
      this.record = record;
    }
    // Charges follow a tick, a new event, or a redelivered one whose charge may not be committed;
    // a refused event changes nothing, so it charges nothing either.
    const due =
      batch.some((m) => m.kind === 'tick') ||
      lifecycle.some((m) => {
        const o = outcomes.get(m)!;
        return o.kind === 'applied' || (o.kind === 'duplicate' && record?.recomputeFromMs != null && m.event.at.getTime() >= record.recomputeFromMs);
      });
    const metered = due && record?.recomputeFromMs != null ? await this.meter(record, epoch, nowMs, prices) : 'settled';
    if (metered === 'fenced') return this.lostPartition(lifecycle);
    if (this.record) this.deps.billable(this.orgId, this.resourceId, this.record.recomputeFromMs !== null);
    // The event is stored either way; its charge is not, so JetStream delivers it again.
    answer((m) => {
      const o = outcomes.get(m)!;
      return metered === 'failed' && o.kind !== 'rejected' ? { kind: 'retry', reason: 'the charge it leads to is not committed yet' } : o;
    });
  }

  /** Computes the charges from the recomputation point up to now and has the wallet settle them. */
  private async meter(r: ResourceRecord, epoch: number, nowMs: number, prices: PriceBook): Promise<'settled' | 'waits' | 'failed' | 'fenced'> {
    const billed = { sku: r.sku, storageGb: billedStorageGb(r) };
    const currencies = this.currency ? [this.currency] : CURRENCIES;
    const charge: ResourceCharge = {
      resourceId: r.resourceId,
      workspaceId: r.workspaceId,
      service: r.service,
      sku: r.sku,
      days: dayCharges(r.periods, billed, prices, r.recomputeFromMs!, nowMs, currencies),
      ratesPerHour: burnRatesPerHour(r.periods, billed, prices, nowMs, currencies),
      running: r.periods.running,
      // Computed at the instant the days are charged up to: the hold is what the run will still
      // be charged within the current period, so the wallet's `available` counts it already.
      hold: holdAt(r.periods, billed, prices, nowMs, this.deps.holdPeriodMs, currencies),
    };
    const answer = await this.deps.meter(this.orgId, charge);
    if (!answer.ok) {
      if (answer.error.code === ErrorCode.CURRENCY_MISMATCH) this.currency = null;
      // A wallet never credited has no currency to charge in: the usage waits (it is kept) until it has one.
      return answer.error.code === ErrorCode.NO_BILLING_CURRENCY ? 'waits' : 'failed';
    }
    if (isCurrency(answer.currency)) this.currency = answer.currency;
    const next = settled(r, nowMs);
    if (next !== r) {
      if (!(await this.deps.repository.setRecomputeFrom(r.orgId, r.resourceId, next.recomputeFromMs, epoch))) return 'fenced';
      this.record = next;
    }
    return 'settled';
  }

  private lostPartition(lifecycle: Extract<ResourceMessage, { kind: 'lifecycle' }>[]): void {
    this.record = undefined;
    this.deps.fenced(this.orgId);
    for (const m of lifecycle) m.done({ kind: 'retry', reason: `organization ${this.orgId} was taken over by another engine process` });
  }

  onCrash(batch: ResourceMessage[], error: unknown): void {
    for (const m of batch) if (m.kind === 'lifecycle') m.done({ kind: 'retry', reason: String((error as Error)?.message ?? error) });
  }

  restart(): void {
    this.record = undefined;
  }

  stop(): void {}
}
