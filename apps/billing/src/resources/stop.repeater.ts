import { Inject, Injectable, Logger } from '@nestjs/common';
import { NatsConnection } from 'nats';
import { controlCommandMessage, Subjects } from '@billing/contracts';
import { JetStreamPublisher } from '@billing/messaging';
import { ResourceRepository, Shards, StopCommandRepository } from '@billing/persistence';
import { BillingConfig } from '../config';
import { Ownership } from '../ownership/ownership.service';
import { CONFIG, NATS } from '../tokens';

/** Pending control commands published again per sweep at most (the oldest first; the next sweep takes the rest). */
export const MAX_STOPS_PER_SWEEP = 1000;

/**
 * Commands to the control plane are repeated until they are done: a stop until its resource's
 * STOPPED (or DELETED) is committed, a `delete_storage` until its DELETED. Every
 * STOP_REPEAT_MS, each pending command of the organizations this process serves, older than one
 * interval (the first publication is the outbox's), is published again to the control stream with
 * the same body (`commandId` included) and a message id of its own (the command's and the
 * interval's: a repeat is a new message, and two processes repeating in the same interval, around
 * a handover, store it once). A pending command already done (its resource's STOPPED or DELETED
 * committed before the command) is ended instead.
 */
@Injectable()
export class StopRepeater {
  private readonly logger = new Logger('StopRepeater');
  private readonly stops: StopCommandRepository;
  private readonly publisher: JetStreamPublisher;
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;

  constructor(
    @Inject(CONFIG) private readonly config: BillingConfig,
    @Inject(NATS) nc: NatsConnection,
    shards: Shards,
    private readonly subjects: Subjects,
    private readonly resources: ResourceRepository,
    private readonly ownership: Ownership,
  ) {
    this.stops = new StopCommandRepository(shards);
    this.publisher = new JetStreamPublisher(nc);
  }

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.config.stopRepeatMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.publisher.close();
  }

  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const pending = await this.stops.pending(this.ownership.owned(), MAX_STOPS_PER_SWEEP, (shard, error) =>
        this.logger.warn({ msg: 'stop commands of a shard not read; the next sweep retries', shard, error: String((error as Error)?.message ?? error) }),
      );
      const nowMs = Date.now();
      const slot = Math.floor(nowMs / this.config.stopRepeatMs);
      for (const p of pending) {
        if (nowMs - p.requestedAt.getTime() < this.config.stopRepeatMs) continue;
        const record = await this.resources.find(p.orgId, p.resourceId);
        if (!record || (p.command === 'delete_storage' ? record.periods.deleted : !record.periods.running)) {
          await this.stops.stopped(p.orgId, p.commandId);
          continue;
        }
        const command = { commandId: p.commandId, orgId: p.orgId, resourceId: p.resourceId, reason: p.reason, at: p.requestedAt.toISOString() };
        const m = controlCommandMessage(this.subjects, p.command, command, `${p.commandId}:${slot}`);
        await this.publisher.publish(m.subject, Buffer.from(m.payload), m.eventId);
        await this.stops.sent(p.orgId, p.commandId);
      }
    } catch (error) {
      this.logger.warn({ msg: 'stop commands not repeated; the next sweep retries', error: String((error as Error)?.message ?? error) });
    } finally {
      this.sweeping = false;
    }
  }
}
