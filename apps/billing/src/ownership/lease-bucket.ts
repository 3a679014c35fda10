import { Logger } from '@nestjs/common';
import { KV, KvEntry, QueuedIterator } from 'nats';
import { BillingConfig } from '../config';

export const partitionKey = (p: number) => `p.${p}`;
export const presenceKey = (node: string) => `n.${node}`;
/** JetStream's error code for a write whose expected revision is not the key's last one. */
const WRONG_LAST_SEQUENCE = 10071;
const START = new Date().toISOString();

/** An entry as last seen: when (by this process's clock) and at which revision. */
export interface Seen {
  readonly seenAtMs: number;
  readonly revision: number;
}

/**
 * The lease bucket: what it says, as this process last saw it (who holds each partition, which
 * processes are present, how many partitions each counts), and this process's writes to it. It
 * follows the bucket with a watch (started again if it ends or goes quiet) and calls `changed`
 * when a lease or a presence comes or goes, so the ownership service plans again at once instead
 * of at its next round. Which leases to hold, and when, is the ownership service's to decide.
 */
export class LeaseBucket {
  private readonly logger = new Logger('LeaseBucket');
  readonly owners = new Map<number, Seen & { readonly node: string }>();
  /** Every process's presence, by when it was last seen renewed (the shape `planLeases` reads). */
  readonly nodes = new Map<string, number>();
  readonly presenceRevisions = new Map<string, number>();
  private readonly partitionCounts = new Map<string, number>();
  private watcher: QueuedIterator<KvEntry> | null = null;
  private watchStartedAtMs = 0;
  private stopped = false;
  private readonly self: Uint8Array;

  constructor(
    private readonly kv: KV,
    private readonly config: BillingConfig,
    private readonly changed: () => void,
  ) {
    this.self = Buffer.from(config.nodeId);
  }

  /**
   * Takes a partition's lease for this process: its revision, or null if another process holds it
   * (throws if the bucket cannot be reached or another process was quicker). It reads what the
   * bucket holds now, not what the watch last said (it may lag, or have missed a write).
   */
  async acquire(partition: number): Promise<number | null> {
    const current = await this.kv.get(partitionKey(partition));
    if (current?.operation !== 'PUT') return this.kv.create(partitionKey(partition), this.self);
    const node = Buffer.from(current.value).toString('utf8');
    if (node !== this.config.nodeId) {
      this.sawOwner(partition, node, current.revision);
      return null;
    }
    // A live lease naming this process is its own from before a restart (NODE_ID is unique among running processes).
    return this.kv.update(partitionKey(partition), this.self, current.revision);
  }

  /** Renews a lease held at `revision`: its new revision, or 'taken' if another process holds it now. */
  async renew(partition: number, revision: number): Promise<number | 'taken'> {
    try {
      return await this.kv.update(partitionKey(partition), this.self, revision);
    } catch (error) {
      if ((error as { api_error?: { err_code?: number } }).api_error?.err_code !== WRONG_LAST_SEQUENCE) throw error;
      // A renewal whose answer was lost moved the revision on: still ours if it still names us.
      const entry = await this.kv.get(partitionKey(partition)).catch(() => null);
      return entry?.operation === 'PUT' && Buffer.from(entry.value).toString('utf8') === this.config.nodeId ? entry.revision : 'taken';
    }
  }

  /** Deletes a lease held at `revision` (a lease renewed or taken since stays). */
  async release(partition: number, revision: number): Promise<void> {
    await this.kv.delete(partitionKey(partition), { previousSeq: revision }).catch(() => undefined);
  }

  /** Writes (or renews) this process's presence, with its partition count. */
  announce(): Promise<unknown> {
    return this.kv.put(presenceKey(this.config.nodeId), Buffer.from(JSON.stringify({ partitions: this.config.partitions, startedAt: START })));
  }

  /** Deletes this process's presence (it is leaving). */
  async leave(): Promise<void> {
    await this.kv.delete(presenceKey(this.config.nodeId)).catch(() => undefined);
  }

  /** Follows the bucket: owners and presences as last seen, by this process's clock. */
  async watch(): Promise<void> {
    this.watchStartedAtMs = Date.now();
    let initialized!: () => void;
    const ready = new Promise<void>((resolve) => (initialized = resolve));
    this.watcher = await this.kv.watch({ key: '>', initializedFn: () => initialized() });
    const watcher = this.watcher;
    void (async () => {
      for await (const e of watcher) this.seen(e);
    })()
      .catch((error) => this.logger.warn({ msg: 'lease watch ended', error: String(error) }))
      .finally(() => {
        if (watcher === this.watcher) this.watchAgain();
      });
    // An empty bucket, or one pruned while reading it, may never say it is initialized.
    await Promise.race([ready, new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.stop();
  }

  /**
   * The watch sees this process's own presence writes; if it has not for a whole TTL, it is stuck
   * (after a NATS restart, say): it is watched again.
   */
  restartIfQuiet(): void {
    const nowMs = Date.now();
    const selfSeenAtMs = this.nodes.get(this.config.nodeId) ?? this.watchStartedAtMs;
    if (!this.stopped && nowMs - selfSeenAtMs > this.config.leaseTtlMs && nowMs - this.watchStartedAtMs > this.config.leaseTtlMs) {
      this.logger.warn({ msg: 'lease watch saw nothing for a whole TTL; watching again' });
      this.watcher?.stop();
    }
  }

  /**
   * Presence entries carry each process's partition count: a process that counts differently
   * would map the same organization to another partition, so it must not join.
   */
  checkPartitionCounts(): void {
    const nowMs = Date.now();
    for (const [node, partitions] of this.partitionCounts) {
      const seenAtMs = this.nodes.get(node);
      if (node !== this.config.nodeId && seenAtMs !== undefined && seenAtMs + this.config.leaseTtlMs > nowMs && partitions !== this.config.partitions) {
        throw new Error(`engine process '${node}' uses PARTITIONS=${partitions}, this one ${this.config.partitions}; every process must use the same count`);
      }
    }
  }

  /** A lease read from the bucket directly (the watch may lag): seen now unless the watch saw that revision already. */
  sawOwner(partition: number, node: string, revision: number): void {
    const known = this.owners.get(partition);
    this.owners.set(partition, { node, revision, seenAtMs: known?.revision === revision ? known.seenAtMs : Date.now() });
  }

  /** Watches again in a second (every live lease and presence is rewritten within a third of the TTL), until it works. */
  private watchAgain(): void {
    if (this.stopped) return;
    setTimeout(() => {
      if (this.stopped) return;
      this.watch().catch((error) => {
        this.logger.warn({ msg: 'lease watch not restarted yet; retrying', error: String(error) });
        this.watchAgain();
      });
    }, 1000).unref();
  }

  private seen(e: KvEntry): void {
    const nowMs = Date.now();
    const put = e.operation === 'PUT';
    if (e.key.startsWith('p.')) {
      const p = Number(e.key.slice(2));
      if (put) this.owners.set(p, { node: Buffer.from(e.value).toString('utf8'), seenAtMs: nowMs, revision: e.revision });
      else {
        this.owners.delete(p);
        this.changed();
      }
    } else if (e.key.startsWith('n.')) {
      const node = e.key.slice(2);
      if (put) {
        const known = this.nodes.has(node);
        this.nodes.set(node, nowMs);
        this.presenceRevisions.set(node, e.revision);
        const partitions = Number(JSON.parse(Buffer.from(e.value).toString('utf8')).partitions);
        this.partitionCounts.set(node, partitions);
        if (partitions !== this.config.partitions) this.logger.error({ msg: 'an engine process uses another partition count; every process must use the same PARTITIONS', node, partitions, ours: this.config.partitions });
        if (!known) this.changed();
      } else {
        this.nodes.delete(node);
        this.presenceRevisions.delete(node);
        this.partitionCounts.delete(node);
        this.changed();
      }
    }
  }
}
