import { Behavior } from '@billing/actors';
import { ErrorCode, LifecycleMessage } from '@billing/contracts';
import { LifecycleEvent } from '@billing/domain';
import { ResourceRepository, StoredResource } from '@billing/persistence';
import { ResourceBook, withEvents } from './resource-book';

/** Lifecycle events one resource may accumulate; past it, events are refused, not stored. */
export const MAX_EVENTS_PER_RESOURCE = 10_000;

export type LifecycleOutcome =
  | { readonly kind: 'applied' | 'duplicate' }
  | { readonly kind: 'rejected'; readonly code: string; readonly reason: string }
  | { readonly kind: 'retry'; readonly reason: string };

export interface ResourceMessage {
  readonly event: LifecycleMessage;
  readonly done: (outcome: LifecycleOutcome) => void;
}

export interface ResourceActorDeps {
  readonly book: ResourceBook;
  readonly repository: ResourceRepository;
  /** Brings the resource's meter up to now; resolves once committed. */
  readonly meter: (orgId: string, resourceIds: string[]) => Promise<object>;
}

/**
 * One GPU resource. Applies its lifecycle events in order of arrival, keeps them all (dedupe by
 * eventId; the periods come from their `at`, whatever order they came in), stores them, then
 * has its wallet charge the difference. A message is answered only after all that is committed.
 */
export class ResourceActor implements Behavior<ResourceMessage> {
  constructor(private readonly orgId: string, private readonly resourceId: string, private readonly deps: ResourceActorDeps) {}

  async receive(batch: ResourceMessage[]): Promise<void> {
    const { book, repository } = this.deps;
    let record: StoredResource | null = book.get(this.orgId, this.resourceId) ?? (await repository.find(this.orgId, this.resourceId));
    let events: LifecycleEvent[] = [...(record?.events ?? [])];
    const known = new Set(events.map((e) => e.eventId));
    const outcomes: LifecycleOutcome[] = [];
    let changedFromMs = Number.POSITIVE_INFINITY;
    for (const { event } of batch) {
      if (!book.catalog.gpu.has(event.sku)) {
        outcomes.push({ kind: 'rejected', code: ErrorCode.UNKNOWN_SKU, reason: `SKU '${event.sku}' is not in the price catalog; nothing was billed` });
        continue;
      }
      if (known.has(event.eventId)) {
        outcomes.push({ kind: 'duplicate' });
        continue;
      }
      if (record && (record.workspaceId !== event.workspaceId || record.service !== event.service || record.sku !== event.sku || record.storageGb !== event.storageGb)) {
        outcomes.push({
          kind: 'rejected',
          code: ErrorCode.RESOURCE_MISMATCH,
          reason: `resource ${this.resourceId} is ${record.sku}/${record.service}/${record.workspaceId}/${record.storageGb} GB; the event says ${event.sku}/${event.service}/${event.workspaceId}/${event.storageGb} GB`,
        });
        continue;
      }
      if (events.length >= MAX_EVENTS_PER_RESOURCE) {
        outcomes.push({ kind: 'rejected', code: ErrorCode.INVALID_FIELD, reason: `resource ${this.resourceId} already has ${MAX_EVENTS_PER_RESOURCE} events` });
        continue;
      }
      record ??= { orgId: this.orgId, resourceId: this.resourceId, workspaceId: event.workspaceId, service: event.service, sku: event.sku, storageGb: event.storageGb, events: [] };
      events.push({ eventId: event.eventId, status: event.status, at: event.at });
      known.add(event.eventId);
      changedFromMs = Math.min(changedFromMs, event.at.getTime());
      outcomes.push({ kind: 'applied' });
    }
    if (record && outcomes.some((o) => o.kind === 'applied')) {
      const next = withEvents(record, events);
      await repository.save(next, next.periods.deleted);
      book.put(next, changedFromMs);
      // The event is stored, so the charge follows from it even if this meter call fails: the
      // next tick (or the restart's catch-up) sets the same cumulative amount.
      await this.deps.meter(this.orgId, [this.resourceId]).catch(() => undefined);
    }
    batch.forEach((m, i) => m.done(outcomes[i]));
  }

  onCrash(batch: ResourceMessage[], error: unknown): void {
    for (const m of batch) m.done({ kind: 'retry', reason: String((error as Error)?.message ?? error) });
  }

  restart(): void {}

  stop(): void {}
}
