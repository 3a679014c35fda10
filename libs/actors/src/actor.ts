import { Mailbox } from './mailbox';

/**
 * What an actor does with its messages. `receive` gets every message queued since the last
 * batch (up to the batch limit), so a behaviour can commit them together. A throw is a bug:
 * the supervisor calls `onCrash` (to answer the batch) and `restart` (to drop in-memory state
 * so the next batch reloads it).
 */
export interface Behavior<M> {
  receive(batch: M[]): Promise<void>;
  onCrash(batch: M[], error: unknown): void;
  restart(): void;
  /** Called once when the actor is passivated; release timers here. */
  stop(): void;
}

export interface ActorLimits {
  /** Messages waiting beyond this are refused. */
  readonly mailboxCapacity: number;
  /** Messages handed to one `receive`. */
  readonly maxBatch: number;
}

export class Actor<M> {
  private readonly mailbox: Mailbox<M>;
  private running = false;
  private lastActiveMs: number;
  private idleWaiters: (() => void)[] = [];
  restarts = 0;

  constructor(readonly key: string, private readonly behavior: Behavior<M>, private readonly limits: ActorLimits, private readonly onError: (key: string, error: unknown) => void) {
    this.mailbox = new Mailbox<M>(limits.mailboxCapacity);
    this.lastActiveMs = Date.now();
  }

  get depth(): number {
    return this.mailbox.size;
  }

  /** Enqueues a message; false means the mailbox is full and the sender must refuse the request. */
  tell(message: M): boolean {
    if (!this.mailbox.offer(message)) return false;
    if (!this.running) void this.drain();
    return true;
  }

  isIdleSince(thresholdMs: number): boolean {
    return !this.running && this.mailbox.size === 0 && this.lastActiveMs <= thresholdMs;
  }

  stop(): void {
    this.behavior.stop();
  }

  /** Resolves once the mailbox is empty and no batch is being handled. */
  idle(): Promise<void> {
    if (!this.running && this.mailbox.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.mailbox.size > 0) {
        const batch = this.mailbox.take(this.limits.maxBatch);
        try {
          await this.behavior.receive(batch);
        } catch (error) {
          // Supervision: answer the batch, drop state, carry on; the next batch reloads.
          this.restarts++;
          this.onError(this.key, error);
          this.behavior.onCrash(batch, error);
          this.behavior.restart();
        }
      }
    } finally {
      this.running = false;
      this.lastActiveMs = Date.now();
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
