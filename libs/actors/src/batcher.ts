/**
 * Group commit as a utility: items submitted while a flush is under way are flushed together
 * by the next one. A flush receives at most `maxItems` and must return one result per item,
 * in order (an Error in a slot fails that item alone).
 */
export class Batcher<I, O> {
  private queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;
  private scheduled = false;
  flushes = 0;
  itemsFlushed = 0;
  flushMs = 0;

  constructor(
    private readonly flush: (items: I[]) => Promise<(O | Error)[]>,
    private readonly maxItems: number,
    private readonly maxConcurrentFlushes = 1,
    /** Told the size and duration of each flush (metrics). */
    private readonly onFlush: (items: number, ms: number) => void = () => undefined,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxConcurrentFlushes) return;
    this.scheduled = true;
    // setImmediate lets every message already read from the socket join this batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.queue.length === 0 || this.inFlight >= this.maxConcurrentFlushes) return;
    const taken = this.queue.splice(0, this.maxItems);
    this.inFlight++;
    this.flushes++;
    this.itemsFlushed += taken.length;
    const startedMs = performance.now();
    try {
      const results = await this.flush(taken.map((t) => t.item));
      const ms = performance.now() - startedMs;
      this.flushMs += ms;
      this.onFlush(taken.length, ms);
      taken.forEach((t, i) => {
        const r = results[i];
        if (r instanceof Error) t.reject(r);
        else t.resolve(r as O);
      });
    } catch (error) {
      for (const t of taken) t.reject(error);
    } finally {
      this.inFlight--;
      if (this.queue.length > 0) this.schedule();
    }
  }
}
