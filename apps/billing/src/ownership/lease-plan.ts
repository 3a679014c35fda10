import { createHash } from 'crypto';

/**
 * What one engine process knows of the partition leases, from watching the lease bucket. Times
 * are this process's own clock at the moment it saw the entry: a lease (or a presence) not seen
 * renewed for a whole TTL has expired in the bucket too.
 */
export interface LeaseView {
  readonly partitions: number;
  readonly self: string;
  readonly nowMs: number;
  readonly ttlMs: number;
  /** The last owner seen for each partition, and when its lease was last seen written. */
  readonly owners: ReadonlyMap<number, { readonly node: string; readonly seenAtMs: number }>;
  /** Every process's presence, by when it was last seen renewed. */
  readonly nodes: ReadonlyMap<string, number>;
  /** The partitions this process holds a lease on (serving, taking over or handing over). */
  readonly held: ReadonlySet<number>;
}

export interface LeasePlan {
  /** Free partitions to try to take (a create that fails means someone else was quicker). */
  readonly claim: number[];
  /** Partitions to hand over because this process holds more than its share. */
  readonly release: number[];
  /** How many partitions each live process should hold. */
  readonly share: number;
}

/**
 * Rendezvous (highest random weight) score: every process ranks the partitions differently, so
 * processes racing for free partitions mostly go for different ones, and a process that hands
 * partitions over gives away the ones it ranks lowest.
 */
function score(node: string, partition: number): number {
  return createHash('md5').update(`${node}/${partition}`).digest().readUInt32BE(0);
}

/**
 * Decides which leases to take and which to give up so that the live processes end up with an
 * even share each (the ceiling of partitions / processes). Pure: the ownership service acts on it.
 */
export function planLeases(view: LeaseView): LeasePlan {
  const fresh = (seenAtMs: number) => seenAtMs + view.ttlMs > view.nowMs;
  let live = 1;
  for (const [node, seenAtMs] of view.nodes) if (node !== view.self && fresh(seenAtMs)) live++;
  const share = Math.ceil(view.partitions / live);
  const free: number[] = [];
  for (let p = 0; p < view.partitions; p++) {
    if (view.held.has(p)) continue;
    const owner = view.owners.get(p);
    // A lease naming this process but not held is its own from before a restart: free to take back.
    if (!owner || owner.node === view.self || !fresh(owner.seenAtMs)) free.push(p);
  }
  const byScore = (a: number, b: number) => score(view.self, b) - score(view.self, a);
  const claim = free.sort(byScore).slice(0, Math.max(0, share - view.held.size));
  const surplus = view.held.size - share;
  const release = surplus > 0 && live > 1 ? [...view.held].sort(byScore).slice(-surplus) : [];
  return { claim, release, share };
}
