/**
 * Coalesces balance snapshots per organization: at most one push per `intervalMs`, always the
 * latest state (by `seq`), never an older one after a newer one, nor the same one twice (a wallet
 * announced again when it is loaded, a balance read again). Pure timing logic, no I/O.
 */
export class BalanceFanout<S extends { orgId: string; seq: number }> {
  private readonly latest = new Map<string, S>();
  private readonly lastPushMs = new Map<string, number>();
  private readonly lastSeq = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  pushes = 0;
  received = 0;

  constructor(private readonly intervalMs: number, private readonly push: (snapshot: S) => void, private readonly now: () => number = Date.now) {}

  offer(snapshot: S): void {
    this.received++;
    const { orgId, seq } = snapshot;
    if (seq <= (this.lastSeq.get(orgId) ?? -1)) return;
    const pending = this.latest.get(orgId);
    if (pending && pending.seq >= seq) return;
    this.latest.set(orgId, snapshot);
    if (this.timers.has(orgId)) return;
    const wait = (this.lastPushMs.get(orgId) ?? -Infinity) + this.intervalMs - this.now();
    if (wait <= 0) this.flush(orgId);
    else this.timers.set(orgId, setTimeout(() => this.flush(orgId), wait));
  }

  /** The newest snapshot pushed for an organization (what a reconnecting client is owed at least). */
  lastPushed(orgId: string): number | undefined {
    return this.lastSeq.get(orgId);
  }

  /**
   * Whether a change announced as following `previousSeq` shows that one was missed: this fanout
   * has seen the organization, and nothing as new as `previousSeq`. (One it has never seen has
   * nothing to be behind on: a socket joining reads the balance itself.)
   */
  missedBefore(orgId: string, previousSeq: number): boolean {
    const newest = Math.max(this.latest.get(orgId)?.seq ?? -1, this.lastSeq.get(orgId) ?? -1);
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
    this.lastSeq.set(orgId, snapshot.seq);
    this.pushes++;
    this.push(snapshot);
  }
}
