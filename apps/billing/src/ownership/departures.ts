import { Logger } from '@nestjs/common';
import { Subjects } from '@billing/contracts';
import { ErrorCode as NatsErrorCode, KV, NatsConnection, NatsError } from 'nats';
import { BillingConfig } from '../config';
import { LeaseBucket, partitionKey, presenceKey } from './lease-bucket';

/** How often the other engine processes are asked whether they are still there. */
export const PROBE_INTERVAL_MS = 250;
/** How long NATS must keep saying that nobody listens on a process's subject before it counts as gone. */
export const GONE_AFTER_MS = 600;
const PROBE_TIMEOUT_MS = 1000;
const EMPTY = new Uint8Array();

/**
 * Takes over early from a process that is gone, instead of waiting for its leases to expire.
 *
 * Every process answers `ping` on its own subject from before it joins until it leaves. When a
 * process dies (killed, crashed, its host gone), the operating system closes its connection and
 * NATS drops its subscriptions at once: a request to it is answered "no responders". Once that
 * has held for `GONE_AFTER_MS`, this process deletes the gone one's leases and presence, each
 * with a compare-and-set on the revision last seen (so a lease renewed meanwhile, by the process
 * itself or by a restart of it, stays), and the ordinary lease round takes the partitions.
 *
 * A process that is alive but paused, or slow, keeps its connection: its pings time out instead,
 * which is no evidence, and its leases run out with the TTL as before. A wrong guess (a live
 * process whose connection NATS dropped) costs availability, never money: taking a partition
 * moves its fence in PostgreSQL, so the old owner's later writes are refused, and its next
 * renewal finds the lease gone. For a TTL after this process's own connection to NATS was lost
 * and came back, it judges nobody: the others may still be reconnecting.
 */
export class Departures {
  private readonly logger = new Logger('Departures');
  /** When each process was first found with nobody listening on its subject, in this streak. */
  private readonly unheardSince = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private probing = false;
  /** Nobody is judged gone before then: a TTL after this process's own connection was last (re)established. */
  private judgeFromMs = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly subjects: Subjects,
    private readonly config: BillingConfig,
    private readonly bucket: LeaseBucket,
    private readonly evicted: (node: string, partitions: number) => void,
  ) {}

  start(): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect') {
          this.judgeFromMs = Date.now() + this.config.leaseTtlMs;
          this.unheardSince.clear();
        }
      }
    })().catch(() => undefined);
    this.timer = setInterval(() => void this.probe(), PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async probe(): Promise<void> {
    if (this.probing || this.nc.isClosed()) return;
    this.probing = true;
    try {
      for (const node of [...this.unheardSince.keys()]) if (!this.bucket.nodes.has(node)) this.unheardSince.delete(node);
      const others = [...this.bucket.nodes.keys()].filter((node) => node !== this.config.nodeId);
      await Promise.all(others.map((node) => this.ask(node)));
    } finally {
      this.probing = false;
    }
  }

  private async ask(node: string): Promise<void> {
    try {
      await this.nc.request(this.subjects.node(node, 'ping'), EMPTY, { timeout: PROBE_TIMEOUT_MS });
      this.unheardSince.delete(node);
    } catch (error) {
      if ((error as NatsError).code !== NatsErrorCode.NoResponders) {
        this.unheardSince.delete(node); // a timeout: paused or slow, not gone
        return;
      }
      const nowMs = Date.now();
      const since = this.unheardSince.get(node) ?? nowMs;
      this.unheardSince.set(node, since);
      if (nowMs - since >= GONE_AFTER_MS && nowMs >= this.judgeFromMs) await this.evict(node);
    }
  }

  /** Deletes the gone process's leases and presence, each only if it is still as last seen. */
  private async evict(node: string): Promise<void> {
    const leases = [...this.bucket.owners].filter(([, owner]) => owner.node === node);
    const deleted = await Promise.all(
      leases.map(([p, owner]) =>
        this.kv.delete(partitionKey(p), { previousSeq: owner.revision }).then(
          () => true,
          () => false,
        ),
      ),
    );
    const presence = this.bucket.presenceRevisions.get(node);
    const left =
      presence !== undefined &&
      (await this.kv.delete(presenceKey(node), { previousSeq: presence }).then(
        () => true,
        () => false,
      ));
    const n = deleted.filter(Boolean).length;
    this.unheardSince.delete(node);
    if (n > 0 || left) {
      this.logger.warn({ msg: 'engine process gone (nobody listens on its subject): its leases are freed', node, partitions: n });
      this.evicted(node, n);
    }
  }
}
