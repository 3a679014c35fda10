/** A bounded FIFO. `offer` refuses instead of growing past the capacity. */
export class Mailbox<M> {
  private items: M[] = [];
  private head = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`mailbox capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.items.length - this.head;
  }

  offer(message: M): boolean {
    if (this.size >= this.capacity) return false;
    this.items.push(message);
    return true;
  }

  /** Takes up to `max` messages in arrival order. */
  take(max: number): M[] {
    const end = Math.min(this.items.length, this.head + max);
    const batch = this.items.slice(this.head, end);
    this.head = end;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    } else if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return batch;
  }
}
