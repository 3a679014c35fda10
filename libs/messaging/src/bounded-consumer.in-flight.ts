/**
 * At most `max` handlers running at once. One waiter only (the consume loop): it asks for a
 * slot before it takes the next message, so while the limit is full nothing more is pulled from
 * the consumer's buffer, and the buffer (`max_messages`) is refilled only as handlers finish.
 */
export class InFlightLimit {
  private readonly running = new Set<Promise<void>>();
  private wake: (() => void) | null = null;
  private opened = false;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`in-flight limit must be a positive integer, got ${max}`);
  }

  /** Handlers running now. */
  get size(): number {
    return this.running.size;
  }

  /** Resolves once a handler may start, or once the limit was opened by `open()` (stopping): the caller tells which. */
  async slot(): Promise<void> {
    while (this.running.size >= this.max && !this.opened) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  /** Counts `task` until it settles. A failure is the caller's to handle: it is only waited for here. */
  run(task: Promise<void>): void {
    const tracked: Promise<void> = task
      .catch(() => undefined)
      .finally(() => {
        this.running.delete(tracked);
        const wake = this.wake;
        this.wake = null;
        wake?.();
      });
    this.running.add(tracked);
  }

  /** Ends any wait for a slot, now and later: the loop is stopping and starts nothing more. */
  open(): void {
    this.opened = true;
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Resolves once every handler started so far has finished. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}

/** What the loop needs of a message: to hand it back. */
export interface Redeliverable {
  /** Hands the message back for redelivery now (JetStream's `nak` without a delay). */
  nak(): void;
}

/**
 * Hands each message of `messages` to `handle`, with at most `limit.max` handlers at once: the
 * next message is taken only once a slot is free. Returns when `messages` ends (stopped, or the
 * consumer went away). A message taken once `stopping()` holds is not started but handed back at
 * once, for another process to take rather than after the ack wait. `handle` must not throw.
 */
export async function handleBounded<M extends Redeliverable>(messages: AsyncIterable<M>, limit: InFlightLimit, handle: (m: M) => Promise<void>, stopping: () => boolean): Promise<void> {
  for await (const m of messages) {
    if (!stopping()) await limit.slot();
    if (stopping()) {
      handBack(m);
      continue;
    }
    limit.run(handle(m));
  }
}

/** A closed connection cannot send the nak, and need not: the server redelivers after the ack wait. */
function handBack(m: Redeliverable): void {
  try {
    m.nak();
  } catch {
    // See above.
  }
}
