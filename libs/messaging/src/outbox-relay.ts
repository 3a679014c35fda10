import { JetStreamManager } from 'nats';
import { JetStreamPublisher } from './jetstream-publisher';
import { ensureStream, StreamSpec } from './streams';

export interface OutboxMessageRef {
  readonly id: string;
  readonly eventId: string;
  readonly subject: string;
  readonly payload: string;
}

/** What the relay needs from the outbox table. */
export interface OutboxStore {
  /** Unpublished messages with an id after `afterId` (ids are ascending integers), oldest first. */
  pending(limit: number, afterId?: string): Promise<OutboxMessageRef[]>;
  delete(ids: readonly string[]): Promise<void>;
}

export interface RelayOptions {
  readonly stream: StreamSpec;
  /** How often committed-but-unpublished events (after a failure or a crash) are looked for. */
  readonly sweepIntervalMs: number;
  /** Rows read per page of a sweep (a sweep reads every page). */
  readonly sweepBatch: number;
  readonly onError?: (error: unknown) => void;
}

/**
 * Publishes outbox rows to JetStream, at least once, with the event id as the JetStream
 * message id so the server drops a repeat within its duplicate window: together, each event
 * lands once. Fresh commits are handed over in memory; a periodic sweep of the table catches
 * whatever a failure or a crash left behind.
 */
export class OutboxRelay {
  private readonly inFlight = new Set<string>();
  private toDelete: string[] = [];
  private deleting: Promise<void> | null = null;
  private sweeping = false;
  private streamKnownGood = false;
  private timer: NodeJS.Timeout | null = null;
  published = 0;
  failures = 0;

  constructor(
    private readonly publisher: JetStreamPublisher,
    private readonly jsm: JetStreamManager,
    private readonly store: OutboxStore,
    private readonly options: RelayOptions,
  ) {}

  async start(): Promise<void> {
    await ensureStream(this.jsm, this.options.stream);
    this.streamKnownGood = true;
    this.timer = setInterval(() => void this.sweep(), this.options.sweepIntervalMs);
    this.timer.unref();
    void this.sweep();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flushDeletes();
    this.publisher.close();
  }

  /** Hands over messages just committed. */
  publish(messages: readonly OutboxMessageRef[]): void {
    for (const m of messages) void this.publishOne(m);
  }

  /** Rows in hand: being published, or published and not yet deleted. */
  get backlog(): number {
    return this.inFlight.size;
  }

  /** A row stays in hand (the sweep leaves it alone) from its publish until its delete: never published twice by this process. */
  private async publishOne(m: OutboxMessageRef): Promise<void> {
    if (this.inFlight.has(m.id)) return;
    this.inFlight.add(m.id);
    try {
      await this.publisher.publish(m.subject, Buffer.from(m.payload), m.eventId);
      this.published++;
      this.toDelete.push(m.id);
      void this.flushDeletes();
    } catch (error) {
      // Left in the table: the sweep retries it.
      this.inFlight.delete(m.id);
      this.failures++;
      this.streamKnownGood = false;
      this.options.onError?.(error);
    }
  }

  /** Deletes published rows in groups, one statement at a time. */
  private flushDeletes(): Promise<void> {
    if (this.deleting) return this.deleting;
    if (this.toDelete.length === 0) return Promise.resolve();
    this.deleting = (async () => {
      try {
        while (this.toDelete.length > 0) {
          const ids = this.toDelete.splice(0, 5000);
          try {
            await this.store.delete(ids);
          } catch (error) {
            // Published but not deleted: the sweep publishes it again, and the server drops the repeat.
            this.options.onError?.(error);
          } finally {
            for (const id of ids) this.inFlight.delete(id);
          }
        }
      } finally {
        this.deleting = null;
      }
    })();
    return this.deleting;
  }

  /** Publishes what is in the table and not already under way. Exposed for tests and shutdown. */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    try {
      if (!this.streamKnownGood) {
        await ensureStream(this.jsm, this.options.stream);
        this.streamKnownGood = true;
      }
      await this.flushDeletes();
      // Page after page: a message that keeps failing at the head holds up none behind it.
      let swept = 0;
      for (let afterId = '0'; ; ) {
        const page = await this.store.pending(this.options.sweepBatch, afterId);
        const rows = page.filter((r) => !this.inFlight.has(r.id));
        await Promise.all(rows.map((r) => this.publishOne(r)));
        swept += rows.length;
        if (page.length < this.options.sweepBatch) break;
        afterId = page[page.length - 1].id;
      }
      await this.flushDeletes();
      return swept;
    } catch (error) {
      this.options.onError?.(error);
      return 0;
    } finally {
      this.sweeping = false;
    }
  }
}
