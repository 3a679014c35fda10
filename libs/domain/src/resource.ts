import { billingPeriods, BillingPeriods, firstBillableMs, isStop, LifecycleEvent } from './lifecycle';
import { startOfUtcDay } from './metering';

/**
 * One GPU resource as the engine knows it: what it is, every lifecycle event it received, and
 * from which instant its charges still have to be (re)computed. The resource side owns this;
 * the wallet only ever sees the charges it leads to.
 */
export interface ResourceRecord {
  readonly orgId: string;
  readonly resourceId: string;
  readonly workspaceId: string;
  readonly service: string;
  readonly sku: string;
  /** Its disk, from the events that say it; null while none has (billed as no disk). */
  readonly storageGb: number | null;
  readonly events: readonly LifecycleEvent[];
  readonly periods: BillingPeriods;
  /**
   * The start of the first UTC day whose charges are not known to be committed for the events
   * held: from there they are computed again at the next meter. Null once every charge the
   * resource will ever have is committed (it never ran, or it is deleted and settled).
   */
  readonly recomputeFromMs: number | null;
}

/** A lifecycle message as the resource side reads it; `storageGb` null when the message does not say. */
export interface LifecycleInput extends LifecycleEvent {
  readonly workspaceId: string;
  readonly service: string;
  readonly sku: string;
  readonly storageGb: number | null;
}

export interface LifecycleLimits {
  /** Events one resource keeps; past it only what ends billing is still taken. */
  readonly maxEvents: number;
  /** How far ahead of the engine's clock an event may be stamped. */
  readonly maxFutureMs: number;
  /** How far back an event may be stamped (the lifecycle stream keeps messages this long). */
  readonly maxLatenessMs: number;
  /** Whether the price catalog prices this SKU. */
  readonly knowsSku: (sku: string) => boolean;
}

export type RefusedLifecycleCode = 'UNKNOWN_SKU' | 'RESOURCE_MISMATCH' | 'TOO_MANY_EVENTS' | 'OUT_OF_RANGE';

export type LifecycleDecision =
  | { readonly kind: 'applied'; readonly record: ResourceRecord; readonly note: string | null }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'rejected'; readonly code: RefusedLifecycleCode; readonly reason: string };

export function newResource(orgId: string, resourceId: string, e: LifecycleInput): ResourceRecord {
  return { orgId, resourceId, workspaceId: e.workspaceId, service: e.service, sku: e.sku, storageGb: e.storageGb, events: [], periods: billingPeriods([]), recomputeFromMs: null };
}

/** The disk billed: what the events said, else none. */
export function billedStorageGb(r: ResourceRecord): number {
  return r.storageGb ?? 0;
}

/** Whether the charge grows with time: the GPU runs, or a disk is kept. */
export function chargeGrows(r: ResourceRecord): boolean {
  return r.periods.running || (r.periods.storage !== null && r.periods.storage.endMs === null && billedStorageGb(r) > 0);
}

function mismatch(r: ResourceRecord, e: LifecycleInput): string | null {
  const diffs: string[] = [];
  if (r.workspaceId !== e.workspaceId) diffs.push(`workspace ${r.workspaceId} -> ${e.workspaceId}`);
  if (r.service !== e.service) diffs.push(`service ${r.service} -> ${e.service}`);
  if (r.sku !== e.sku) diffs.push(`sku ${r.sku} -> ${e.sku}`);
  if (r.storageGb !== null && e.storageGb !== null && r.storageGb !== e.storageGb) diffs.push(`storageGb ${r.storageGb} -> ${e.storageGb}`);
  return diffs.length ? diffs.join(', ') : null;
}

/**
 * Takes one lifecycle event into the record (or says why not). An event that ends billing (a
 * stop while the resource runs, or DELETED) is always taken, even past the event limit or with an
 * attribute that disagrees: refusing it would bill the resource forever. Anything else that
 * cannot be right is refused with the reason, and changes nothing.
 */
export function applyLifecycle(current: ResourceRecord | null, orgId: string, resourceId: string, e: LifecycleInput, nowMs: number, limits: LifecycleLimits): LifecycleDecision {
  if (current?.events.some((x) => x.eventId === e.eventId)) return { kind: 'duplicate' };
  const atMs = e.at.getTime();
  if (atMs > nowMs + limits.maxFutureMs) return { kind: 'rejected', code: 'OUT_OF_RANGE', reason: `stamped ${e.at.toISOString()}, more than ${limits.maxFutureMs / 60_000} min ahead of the engine's clock` };
  if (atMs < nowMs - limits.maxLatenessMs) return { kind: 'rejected', code: 'OUT_OF_RANGE', reason: `stamped ${e.at.toISOString()}, more than ${Math.round(limits.maxLatenessMs / 86_400_000)} days ago` };
  if (current === null && !limits.knowsSku(e.sku)) return { kind: 'rejected', code: 'UNKNOWN_SKU', reason: `SKU '${e.sku}' is not in the price catalog; nothing was billed` };
  const r = current ?? newResource(orgId, resourceId, e);
  const endsBilling = e.status === 'DELETED' || (isStop(e.status) && r.periods.running);
  const differs = mismatch(r, e);
  if (differs && !endsBilling) return { kind: 'rejected', code: 'RESOURCE_MISMATCH', reason: `resource ${resourceId} cannot change: ${differs}` };
  if (r.events.length >= limits.maxEvents && !endsBilling) return { kind: 'rejected', code: 'TOO_MANY_EVENTS', reason: `resource ${resourceId} already has ${limits.maxEvents} events; only a stop or DELETED is still taken` };

  const adoptsDisk = r.storageGb === null && e.storageGb !== null && !differs;
  const events = [...r.events, { eventId: e.eventId, status: e.status, at: e.at }];
  const periods = billingPeriods(events);
  // Charges change from the event's instant on; a disk learnt late changes them from the storage's start.
  const before = firstBillableMs(r.periods);
  const after = firstBillableMs(periods);
  const earliest = before === null ? after : after === null ? before : Math.min(before, after);
  let recomputeFromMs = r.recomputeFromMs;
  const changes = adoptsDisk || JSON.stringify(periods) !== JSON.stringify(r.periods);
  if (earliest !== null && changes) {
    // Charges are set a UTC day at a time: the point is the day's start (so that, once the day is
    // charged, `settled` finds it where it already is, and has nothing to write).
    const from = startOfUtcDay(adoptsDisk ? earliest : Math.max(atMs, earliest));
    recomputeFromMs = recomputeFromMs === null ? from : Math.min(recomputeFromMs, from);
  }
  const record: ResourceRecord = { ...r, storageGb: adoptsDisk ? e.storageGb : r.storageGb, events, periods, recomputeFromMs };
  return { kind: 'applied', record, note: differs ? `a ${e.status} that ends billing was taken although ${differs}; the resource keeps its first attributes` : null };
}

/**
 * The charges up to `nowMs` are committed: what remains to recompute is today (while a charge can
 * still grow or a stop still lies ahead), else nothing.
 */
export function settled(r: ResourceRecord, nowMs: number): ResourceRecord {
  const { gpu, storage } = r.periods;
  const stopAhead = gpu.some((run) => run.endMs !== null && run.endMs > nowMs) || (storage?.endMs != null && storage.endMs > nowMs && billedStorageGb(r) > 0);
  const recomputeFromMs = chargeGrows(r) || stopAhead ? startOfUtcDay(nowMs) : null;
  return recomputeFromMs === r.recomputeFromMs ? r : { ...r, recomputeFromMs };
}
