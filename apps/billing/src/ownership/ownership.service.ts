import { Inject, Injectable, Logger } from '@nestjs/common';
import { Subjects } from '@billing/contracts';
import { withJetStreamPatience } from '@billing/messaging';
import { PartitionEpochRepository, partitionOf, PartitionFilter } from '@billing/persistence';
import { NatsConnection } from 'nats';
import { BillingMetrics } from '../billing.metrics';
import { BillingConfig } from '../config';
import { CONFIG, NATS } from '../tokens';
import { Departures } from './departures';
import { LeaseBucket } from './lease-bucket';
import { planLeases } from './lease-plan';
import { ShardMapGuard, ShardMapStatus } from './shard-map-guard';

/** How often this process looks for partitions to take or hand over (besides when the bucket changes). */
const PLAN_INTERVAL_MS = 1000;

/** Where a request for an organization goes. */
export type Route =
  | { readonly kind: 'here' }
  | { readonly kind: 'peer'; readonly node: string }
  /** No process serves it this moment (it is being taken over or handed over): retry shortly. */
  | { readonly kind: 'moving' };

const HERE: Route = { kind: 'here' };
const MOVING: Route = { kind: 'moving' };

/** What the engine does when partitions come and go. */
export interface OwnershipHooks {
  /** The partitions are now leased here: load what they need; they are served once this resolves. */
  gained(partitions: readonly number[]): Promise<void>;
  /** The partitions are no longer served here: finish their work in hand and drop their state. */
  lost(partitions: readonly number[]): Promise<void>;
}

interface Lease {
  readonly partition: number;
  revision: number;
  renewedAtMs: number;
  /**
   * This process serves the partition until then: the send time of the last write that renewed
   * the lease, plus the TTL, less a margin. The bucket counts the TTL from when it stored the
   * write (later), so the lease lapses here before another process can take it there.
   */
  validUntilMs: number;
  /** The partition's fence in PostgreSQL, taken with the lease: every write of its organizations carries it. */
  epoch: number;
  state: 'taking' | 'serving' | 'handing-over';
  /** Writes to this lease, one after the other (a renewal never races the final delete). */
  writes: Promise<void>;
}

/** Part of the TTL a lease is given up before it would expire in the bucket (timers are late, clocks drift). */
const LEASE_MARGIN_FRACTION = 0.2;

/**
 * Which engine process owns which organizations. Organizations are owned a partition at a time
 * (`partitionOf`), and a partition's owner is whoever holds its lease in a JetStream key-value
 * bucket whose entries live `LEASE_TTL_MS`: a lease is taken with a create (which fails if the key
 * holds a live value), renewed with a compare-and-set on its revision, and handed over by
 * deleting it. A process that dies stops renewing, so its leases expire and the others take them;
 * sooner if NATS tells them nobody listens on its subject any more (`Departures`). Each process also keeps a presence entry, from which every process works out its even share.
 *
 * The lease decides who serves; the fence keeps the money right. Taking a partition also moves
 * its epoch in PostgreSQL (`take_partition`), and every write of its wallets and resources is
 * checked against that epoch in the same transaction. A process stops serving a partition as soon
 * as its lease may have lapsed (before the bucket lets another take it), and a process that lost
 * it without noticing (paused, cut off) has every later write refused there.
 */
@Injectable()
export class Ownership {
  private readonly logger = new Logger('Ownership');
  private bucket: LeaseBucket | null = null;
  private guard: ShardMapGuard | null = null;
  private departures: Departures | null = null;
  private readonly leases = new Map<number, Lease>();
  /** Partitions lost or handed over whose work is still being finished: not to be taken again yet. */
  private readonly settling = new Set<number>();
  private renewTimer: NodeJS.Timeout | null = null;
  private planTimer: NodeJS.Timeout | null = null;
  private planning: Promise<void> | null = null;
  private replan = false;
  private stopping = false;
  private hooks: OwnershipHooks = { gained: async () => undefined, lost: async () => undefined };

  constructor(
    @Inject(CONFIG) private readonly config: BillingConfig,
    @Inject(NATS) private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly metrics: BillingMetrics,
    private readonly epochs: PartitionEpochRepository,
    private readonly shardMapStatus: ShardMapStatus,
  ) {}

  get nodeId(): string {
    return this.config.nodeId;
  }

  /** Partitions served here now. */
  get serving(): number {
    let n = 0;
    for (const l of this.leases.values()) if (l.state === 'serving') n++;
    return n;
  }

  /**
   * Joins the engine processes: reads the bucket, and takes this process's share of the free
   * partitions (resolving once they are served).
   */
  async start(hooks: OwnershipHooks): Promise<void> {
    this.hooks = hooks;
    const kv = await withJetStreamPatience(() => this.nc.jetstream().views.kv(this.config.ownersBucket, { ttl: this.config.leaseTtlMs, history: 1, replicas: this.config.jetStreamReplicas }));
    this.bucket = new LeaseBucket(kv, this.config, () => this.nudge());
    this.guard = new ShardMapGuard(kv, this.config.shards, this.config.nodeId, this.shardMapStatus);
    await this.guard.check();
    await this.bucket.watch();
    this.bucket.checkPartitionCounts();
    await this.renew();
    this.nudge();
    await this.planning;
    this.renewTimer = setInterval(() => void this.renew(), Math.floor(this.config.leaseTtlMs / 3));
    this.planTimer = setInterval(() => this.nudge(), PLAN_INTERVAL_MS);
    this.renewTimer.unref();
    this.planTimer.unref();
    this.departures = new Departures(this.nc, kv, this.subjects, this.config, this.bucket, (_node, partitions) => this.metrics.ownership.inc({ change: 'freed-from-gone' }, partitions));
    this.departures.start();
  }

  /** Hands every partition over (each after its work in hand is finished) and leaves. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.departures?.stop();
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.planTimer) clearInterval(this.planTimer);
    await this.planning;
    const renewing = setInterval(() => void this.renew(), Math.floor(this.config.leaseTtlMs / 3));
    try {
      await this.handOver([...this.leases.keys()]);
      await this.bucket?.leave();
    } finally {
      clearInterval(renewing);
      this.bucket?.stop();
    }
  }

  partitionOf(orgId: string): number {
    return partitionOf(orgId, this.config.partitions);
  }

  route(orgId: string): Route {
    const p = this.partitionOf(orgId);
    const lease = this.valid(p);
    if (lease) return lease.state === 'serving' ? HERE : MOVING;
    if (this.leases.has(p)) return MOVING;
    const owner = this.bucket?.owners.get(p);
    if (owner && owner.node !== this.config.nodeId && !this.settling.has(p)) return { kind: 'peer', node: owner.node };
    return MOVING; // the next lease round (within a second) takes it
  }

  /**
   * The epoch every write of this organization must carry, while this process holds its
   * partition (taking, serving or handing over); null otherwise.
   */
  fence(orgId: string): number | null {
    return this.valid(this.partitionOf(orgId))?.epoch ?? null;
  }

  /** A write for this organization was fenced off: another process took its partition. */
  fenced(orgId: string): void {
    const lease = this.leases.get(this.partitionOf(orgId));
    if (!lease) return;
    // The database refused a write: the last line of defence held, which the lease should have made unnecessary.
    this.metrics.ownership.inc({ change: 'fenced' });
    this.lose(lease, 'fenced off in PostgreSQL: another process took it');
  }

  /** The partition's lease if it is held and has not lapsed; a lapsed one is given up at once. */
  private valid(partition: number): Lease | undefined {
    const lease = this.leases.get(partition);
    if (lease && Date.now() > lease.validUntilMs) {
      this.lose(lease, 'not renewed in time');
      return undefined;
    }
    return lease;
  }

  /** The partitions served here, for queries that must see only this process's organizations. */
  owned(): PartitionFilter {
    const owned: number[] = [];
    for (const l of [...this.leases.values()]) if (l.state === 'serving' && this.valid(l.partition)) owned.push(l.partition);
    return { count: this.config.partitions, owned };
  }

  /** Whether an organization falls in one of `partitions`. */
  matcher(partitions: readonly number[]): (orgId: string) => boolean {
    const set = new Set(partitions);
    return (orgId) => set.has(this.partitionOf(orgId));
  }

  /** Renews every lease held (and this process's presence); a lease that cannot be renewed is lost. */
  private async renew(): Promise<void> {
    if (!this.bucket) return; // not started
    if (!this.stopping) this.bucket?.restartIfQuiet();
    // The shard map record, read beside the renewals (a slow read must not delay them).
    const checked = this.stopping ? Promise.resolve() : this.guard!.check().then((ok) => (ok ? undefined : this.nudge()));
    if (!this.stopping && this.guard!.refused) {
      // Another shard map: no presence (the others count it in their share), no partition held.
      await Promise.all([this.bucket.leave(), this.handOver([...this.leases.keys()]).catch(() => undefined), checked]);
      return;
    }
    const presence = this.bucket!.announce();
    for (const lease of this.leases.values()) this.write(lease, () => this.renewLease(lease));
    await Promise.all([presence.catch((error) => this.logger.warn({ msg: 'presence not renewed', error: String(error) })), this.checkFences(), checked]);
  }

  /**
   * Gives up, without waiting for a write to be refused, a partition whose fence moved in
   * PostgreSQL: taken by another process, or moved to another shard (`move_partition_out`). An idle
   * partition would otherwise be held (and its settings written) until its next fenced write.
   * Only leases serving before the query was sent are judged: their epoch was committed by then.
   */
  private async checkFences(): Promise<void> {
    const serving = [...this.leases.values()].filter((l) => l.state === 'serving');
    if (serving.length === 0 || this.stopping) return;
    const current = await this.epochs.current(serving.map((l) => l.partition)).catch(() => new Map<number, number>());
    for (const lease of serving) {
      const epoch = current.get(lease.partition);
      if (epoch === undefined || epoch === lease.epoch || this.leases.get(lease.partition) !== lease) continue;
      this.metrics.ownership.inc({ change: 'fenced' });
      this.lose(lease, `its fence moved in PostgreSQL (epoch ${lease.epoch} -> ${epoch}): taken by another process or moved to another shard`);
    }
  }

  private async renewLease(lease: Lease): Promise<void> {
    if (!this.valid(lease.partition)) return;
    const sentAtMs = Date.now();
    try {
      const revision = await this.bucket!.renew(lease.partition, lease.revision);
      if (revision === 'taken') return this.lose(lease, 'taken by another process');
      lease.revision = revision;
      lease.renewedAtMs = Date.now();
      lease.validUntilMs = this.validUntil(sentAtMs);
    } catch (error) {
      if (Date.now() - lease.renewedAtMs >= this.config.leaseTtlMs) this.lose(lease, `not renewed within the TTL: ${String((error as Error)?.message ?? error)}`);
    }
  }

  private validUntil(sentAtMs: number): number {
    return sentAtMs + Math.floor(this.config.leaseTtlMs * (1 - LEASE_MARGIN_FRACTION));
  }

  private write(lease: Lease, op: () => Promise<void>): Promise<void> {
    lease.writes = lease.writes.then(() => (this.leases.get(lease.partition) === lease ? op() : undefined)).catch(() => undefined);
    return lease.writes;
  }

  /** The lease is gone: stop serving the partition at once and finish its work. */
  private lose(lease: Lease, reason: string): void {
    if (this.leases.get(lease.partition) !== lease) return;
    this.leases.delete(lease.partition);
    this.settling.add(lease.partition);
    this.metrics.ownership.inc({ change: 'lost' });
    this.logger.warn({ msg: 'partition lease lost', partition: lease.partition, reason });
    void this.hooks
      .lost([lease.partition])
      .catch((error) => this.logger.error({ msg: 'partition not wound down cleanly', partition: lease.partition, error: String(error) }))
      .finally(() => this.settling.delete(lease.partition));
  }

  private nudge(): void {
    if (this.stopping || !this.bucket) return;
    if (this.planning) {
      this.replan = true;
      return;
    }
    this.planning = this.plan().finally(() => (this.planning = null));
  }

  private async plan(): Promise<void> {
    do {
      this.replan = false;
      if (this.guard?.refused) {
        await this.handOver([...this.leases.keys()]).catch(() => undefined);
        return;
      }
      const held = new Set([...this.leases.keys(), ...this.settling]);
      const bucket = this.bucket!;
      const plan = planLeases({ partitions: this.config.partitions, self: this.config.nodeId, nowMs: Date.now(), ttlMs: this.config.leaseTtlMs, owners: bucket.owners, nodes: bucket.nodes, held });
      try {
        await Promise.all([this.take(plan.claim), this.handOver(plan.release)]);
      } catch (error) {
        this.logger.warn({ msg: 'lease round failed; the next one retries', error: String((error as Error)?.message ?? error) });
      }
    } while (this.replan && !this.stopping);
  }

  /** Takes the free partitions it can, then serves them once the engine has loaded their state. */
  private async take(partitions: readonly number[]): Promise<void> {
    if (partitions.length === 0) return;
    const taken: Lease[] = [];
    await Promise.all(
      partitions.map(async (p) => {
        try {
          const sentAtMs = Date.now();
          const revision = await this.bucket!.acquire(p);
          if (revision === null) return;
          const lease: Lease = { partition: p, revision, renewedAtMs: Date.now(), validUntilMs: this.validUntil(sentAtMs), epoch: 0, state: 'taking', writes: Promise.resolve() };
          this.leases.set(p, lease);
          taken.push(lease);
        } catch {
          // Someone else was quicker, or the bucket cannot be reached: the next round looks again.
        }
      }),
    );
    if (taken.length === 0) return;
    // Shard by shard: the partitions of a shard that cannot be reached are handed back, the others served.
    const byShard = new Map<string, Lease[]>();
    for (const l of taken) {
      const shard = this.config.shards.byPartition[l.partition];
      byShard.set(shard, [...(byShard.get(shard) ?? []), l]);
    }
    await Promise.all([...byShard].map(([shard, leases]) => this.serveTaken(shard, leases)));
  }

  private async serveTaken(shard: string, taken: readonly Lease[]): Promise<void> {
    const ps = taken.map((l) => l.partition);
    try {
      // The fence first: once the epochs moved, the previous owner can write nothing more there.
      const epochs = await this.epochs.take(ps, this.config.nodeId);
      for (const l of taken) l.epoch = epochs.get(l.partition)!;
      await this.hooks.gained(ps);
    } catch (error) {
      this.logger.warn({ msg: 'partitions taken but not loaded; handing them back', shard, partitions: ps, error: String((error as Error)?.message ?? error) });
      await this.handOver(ps);
      return;
    }
    for (const l of taken) if (this.leases.get(l.partition) === l) l.state = 'serving';
    // A lease lost while its partition was loading: what the load put in memory goes too.
    const lostMeanwhile = taken.filter((l) => this.leases.get(l.partition) !== l).map((l) => l.partition);
    if (lostMeanwhile.length > 0) await this.hooks.lost(lostMeanwhile).catch((error) => this.logger.error({ msg: 'partitions not wound down cleanly', partitions: lostMeanwhile, error: String(error) }));
    this.metrics.ownership.inc({ change: 'gained' }, ps.length);
    this.logger.log({ msg: 'partitions taken', node: this.config.nodeId, shard, partitions: ps, serving: this.serving });
  }

  /** Stops serving the partitions, lets their work in hand finish, then deletes their leases. */
  private async handOver(partitions: readonly number[]): Promise<void> {
    const leases = partitions.map((p) => this.leases.get(p)).filter((l): l is Lease => l !== undefined && l.state !== 'handing-over');
    if (leases.length === 0) return;
    for (const l of leases) l.state = 'handing-over';
    const ps = leases.map((l) => l.partition);
    try {
      await this.hooks.lost(ps);
    } catch (error) {
      this.logger.error({ msg: 'partitions not wound down cleanly', partitions: ps, error: String(error) });
    }
    await Promise.all(
      leases.map(async (l) => {
        await this.write(l, async () => {
          await this.bucket!.release(l.partition, l.revision);
        });
        if (this.leases.get(l.partition) === l) this.leases.delete(l.partition);
      }),
    );
    this.metrics.ownership.inc({ change: 'handed-over' }, ps.length);
    this.logger.log({ msg: 'partitions handed over', node: this.config.nodeId, partitions: ps, serving: this.serving });
  }
}
