import { Actor, ActorLimits, Behavior } from './actor';

export interface RegistryOptions extends ActorLimits {
  /** An actor idle for this long is passivated; its next message activates a fresh one. */
  readonly idleMs: number;
  /** How often idle actors are looked for. */
  readonly sweepIntervalMs: number;
}

/**
 * One actor per key, created on the first message. Passivation removes only actors that are
 * idle with an empty mailbox, synchronously, so a message is never handed to a stopped actor.
 */
export class ActorRegistry<M> {
  private readonly actors = new Map<string, Actor<M>>();
  private readonly sweeper: NodeJS.Timeout;
  passivated = 0;

  constructor(
    private readonly create: (key: string) => Behavior<M>,
    private readonly options: RegistryOptions,
    private readonly onError: (key: string, error: unknown) => void = () => undefined,
  ) {
    this.sweeper = setInterval(() => this.passivateIdle(), options.sweepIntervalMs);
    this.sweeper.unref();
  }

  get size(): number {
    return this.actors.size;
  }

  /** Total messages waiting across all actors. */
  get depth(): number {
    let n = 0;
    for (const a of this.actors.values()) n += a.depth;
    return n;
  }

  tell(key: string, message: M): boolean {
    let actor = this.actors.get(key);
    if (!actor) {
      actor = new Actor(key, this.create(key), this.options, this.onError);
      this.actors.set(key, actor);
    }
    return actor.tell(message);
  }

  has(key: string): boolean {
    return this.actors.has(key);
  }

  keys(): IterableIterator<string> {
    return this.actors.keys();
  }

  passivateIdle(nowMs = Date.now()): number {
    const threshold = nowMs - this.options.idleMs;
    let n = 0;
    for (const [key, actor] of this.actors) {
      if (actor.isIdleSince(threshold)) {
        this.actors.delete(key);
        actor.stop();
        n++;
      }
    }
    this.passivated += n;
    return n;
  }

  /**
   * Stops the actors whose key matches once each has handled what its mailbox holds (the sender
   * must stop telling them first: a message told meanwhile is still handled). Used when their
   * keys move to another process.
   */
  async retire(matches: (key: string) => boolean): Promise<number> {
    let n = 0;
    for (;;) {
      const busy: Promise<void>[] = [];
      for (const [key, actor] of this.actors) {
        if (!matches(key)) continue;
        if (actor.isIdleSince(Number.POSITIVE_INFINITY)) {
          this.actors.delete(key);
          actor.stop();
          n++;
        } else busy.push(actor.idle());
      }
      if (busy.length === 0) return n;
      await Promise.all(busy);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const actor of this.actors.values()) actor.stop();
    this.actors.clear();
  }
}
