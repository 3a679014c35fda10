/**
 * A GPU resource's life as the control plane tells it (DESIGN.md section 3), and the billing
 * periods that life makes: pure functions of the set of lifecycle events received, whatever order
 * they came in, however often each came.
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

/** STOPPING, STOPPED and FAILED all end a GPU run. */
export function isStop(status: LifecycleStatus): boolean {
  return status === 'STOPPING' || status === 'STOPPED' || status === 'FAILED';
}

/** Events by `at`, then lifecycle rank, then id: a total order, for display and for storage. */
export function compareEvents(a: LifecycleEvent, b: LifecycleEvent): number {
  const t = a.at.getTime() - b.at.getTime();
  if (t !== 0) return t;
  const r = RANK[a.status] - RANK[b.status];
  if (r !== 0) return r;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

/**
 * The periods of the events taken in order of `at`. Events stamped with the same instant (a
 * control plane that stamps to the second stops and restarts within one) are taken together:
 * - a start and a stop at the same instant cancel out: the resource leaves that instant as it
 *   entered it (a running one restarted without a gap; a stopped one that blipped stays
 *   stopped), though a blip still starts the storage period;
 * - only starts: it runs from then; only stops: it stops then;
 * - DELETED ends everything at its instant, and nothing after it counts.
 * So the periods never depend on arrival order, and a same-instant restart loses no run.
 */
/** When the current GPU run began (ms), or null when the resource is not running. */
export function runningSinceMs(periods: BillingPeriods): number | null {
  const last = periods.gpu[periods.gpu.length - 1];
  return periods.running && last ? last.startMs : null;
}

export function billingPeriods(events: readonly LifecycleEvent[]): BillingPeriods {
  const sorted = [...events].sort(compareEvents);
  const gpu: Interval[] = [];
  let runStart: number | null = null;
  let storageStart: number | null = null;
  let storageEnd: number | null = null;
  let deleted = false;
  for (let i = 0; i < sorted.length && !deleted; ) {
    const at = sorted[i].at.getTime();
    let starts = false;
    let stops = false;
    for (; i < sorted.length && sorted[i].at.getTime() === at; i++) {
      const status = sorted[i].status;
      if (status === 'RUNNING') starts = true;
      else if (isStop(status)) stops = true;
      else if (status === 'DELETED') deleted = true;
    }
    if (starts && storageStart === null) storageStart = at;
    if (deleted) {
      if (runStart !== null) gpu.push({ startMs: runStart, endMs: at });
      runStart = null;
      if (storageStart !== null) storageEnd = at;
    } else if (starts && !stops && runStart === null) {
      runStart = at;
    } else if (stops && !starts && runStart !== null) {
      if (at > runStart) gpu.push({ startMs: runStart, endMs: at });
      runStart = null;
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

/** When the resource's usage starts: its first billable instant, or null if it never ran. */
export function firstBillableMs(periods: BillingPeriods): number | null {
  if (periods.storage) return periods.storage.startMs;
  return periods.gpu.length > 0 ? periods.gpu[0].startMs : null;
}

/** Whether a period is still open (its charge grows with time). */
export function isOpen(periods: BillingPeriods): boolean {
  return periods.running || (periods.storage !== null && periods.storage.endMs === null);
}

/** The last instant at which the charge can still grow, or null while a period is open. */
export function lastBillableMs(periods: BillingPeriods): number | null {
  if (isOpen(periods)) return null;
  let last = periods.storage?.endMs ?? 0;
  for (const run of periods.gpu) last = Math.max(last, run.endMs ?? 0);
  return last;
}
