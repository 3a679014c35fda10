/** Which of two states of one wallet is newer: the later seq, and for the same seq the later `at` (a GPU started or stopped: its burn and hold changed, no money moved). */
function newer(a: { seq: number; at?: string }, b: { seq: number; at?: string }): boolean {
  return a.seq > b.seq || (a.seq === b.seq && (a.at ?? '') > (b.at ?? ''));
}

/**
 * Coalesces balance snapshots per organization: at most one push per `intervalMs`, always the
 * latest state (by `seq`, then `at`), never an older one after a newer one, nor the same one twice
 * (a balance read again). Pure timing logic, no I/O.
 */
export class BalanceFanout<S extends { orgId: string; seq: number; at?: string }> {
  private readonly latest = new Map<string, S>();
  private readonly lastPushMs = new Map<string, number>();
  /** The state last pushed, per organization: its seq and time. */
  private readonly pushed = new Map<string, { seq: number; at?: string }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  pushes = 0;
  received = 0;

  constructor(private readonly intervalMs: number, private readonly push: (snapshot: S) => void, private readonly now: () => number = Date.now) {}

  offer(snapshot: S): void {
    this.received++;
    const { orgId } = snapshot;
    const pushed = this.pushed.get(orgId);
    if (pushed && !newer(snapshot, pushed)) return;
    const pending = this.latest.get(orgId);
    if (pending && !newer(snapshot, pending)) return;
    this.latest.set(orgId, snapshot);
    if (this.timers.has(orgId)) return;
    const wait = (this.lastPushMs.get(orgId) ?? -Infinity) + this.intervalMs - this.now();
    if (wait <= 0) this.flush(orgId);
    else this.timers.set(orgId, setTimeout(() => this.flush(orgId), wait));
  }

  /** The newest snapshot pushed for an organization (what a reconnecting client is owed at least). */
  lastPushed(orgId: string): number | undefined {
    return this.pushed.get(orgId)?.seq;
  }

  /**
   * Whether a change announced as following `previousSeq` shows that one was missed: this fanout
   * has seen the organization, and nothing as new as `previousSeq`. (One it has never seen has
   * nothing to be behind on: a socket joining reads the balance itself.)
   */
  missedBefore(orgId: string, previousSeq: number): boolean {
    const newest = Math.max(this.latest.get(orgId)?.seq ?? -1, this.pushed.get(orgId)?.seq ?? -1);
    return newest >= 0 && previousSeq > newest;
  }

  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private flush(orgId: string): void {
    this.timers.delete(orgId);
    const snapshot = this.latest.get(orgId);
    if (!snapshot) return;
    this.latest.delete(orgId);
    this.lastPushMs.set(orgId, this.now());
    this.pushed.set(orgId, { seq: snapshot.seq, at: snapshot.at });
    this.pushes++;
    this.push(snapshot);
  }
}
