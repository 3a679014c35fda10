import { Actor, Behavior } from './actor';
import { ActorRegistry } from './actor-registry';
import { Batcher } from './batcher';
import { Mailbox } from './mailbox';

const tick = () => new Promise((r) => setImmediate(r));

class Recorder implements Behavior<number> {
  batches: number[][] = [];
  crashes: number[][] = [];
  restarts = 0;
  stopped = false;
  gate: Promise<void> = Promise.resolve();
  async receive(batch: number[]) {
    this.batches.push(batch);
    await this.gate;
    if (batch.includes(13)) throw new Error('bug');
  }
  onCrash(batch: number[]) {
    this.crashes.push(batch);
  }
  restart() {
    this.restarts++;
  }
  stop() {
    this.stopped = true;
  }
}

describe('Mailbox', () => {
  it('refuses a message past its capacity instead of growing', () => {
    const m = new Mailbox<number>(2);
    expect([m.offer(1), m.offer(2), m.offer(3)]).toEqual([true, true, false]);
    expect(m.take(10)).toEqual([1, 2]);
    expect(m.offer(4)).toBe(true);
  });
});

describe('Actor', () => {
  it('hands every message queued during a batch to the next batch, in order', async () => {
    const b = new Recorder();
    let open!: () => void;
    b.gate = new Promise((r) => (open = r));
    const a = new Actor('k', b, { mailboxCapacity: 100, maxBatch: 100 }, () => undefined);
    a.tell(1);
    a.tell(2);
    a.tell(3);
    open();
    await tick();
    await tick();
    expect(b.batches).toEqual([[1], [2, 3]]);
  });

  it('restarts after a bug: the failed batch is answered and later messages still run', async () => {
    const b = new Recorder();
    const errors: unknown[] = [];
    const a = new Actor('k', b, { mailboxCapacity: 100, maxBatch: 1 }, (_k, e) => errors.push(e));
    a.tell(13);
    a.tell(14);
    await tick();
    await tick();
    expect(b.crashes).toEqual([[13]]);
    expect(b.restarts).toBe(1);
    expect(b.batches).toEqual([[13], [14]]);
    expect(errors).toHaveLength(1);
  });
});

describe('ActorRegistry', () => {
  it('passivates only idle actors with empty mailboxes and activates a fresh one on the next message', async () => {
    const made: Recorder[] = [];
    const r = new ActorRegistry<number>(() => {
      const b = new Recorder();
      made.push(b);
      return b;
    }, { mailboxCapacity: 10, maxBatch: 10, idleMs: 0, sweepIntervalMs: 60_000 });
    r.tell('a', 1);
    expect(r.passivateIdle(Date.now() + 1)).toBe(0); // still running its batch
    await tick();
    expect(r.passivateIdle(Date.now() + 1)).toBe(1);
    expect(made[0].stopped).toBe(true);
    r.tell('a', 2);
    await tick();
    expect(made).toHaveLength(2);
    expect(made[1].batches).toEqual([[2]]);
    r.close();
  });

  it('retires the matching actors only after each has handled its mailbox, and leaves the others', async () => {
    const made = new Map<string, Recorder>();
    const r = new ActorRegistry<number>((key) => {
      const b = new Recorder();
      made.set(key, b);
      return b;
    }, { mailboxCapacity: 10, maxBatch: 1, idleMs: 60_000, sweepIntervalMs: 60_000 });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    r.tell('moving-1', 1);
    made.get('moving-1')!.gate = gate;
    r.tell('moving-1', 2);
    r.tell('moving-2', 3);
    r.tell('staying', 4);
    await tick();
    let retired: number | null = null;
    const retiring = r.retire((key) => key.startsWith('moving')).then((n) => (retired = n));
    await tick();
    expect(retired).toBeNull(); // moving-1 is still busy
    expect(r.has('moving-2')).toBe(false);
    open();
    await retiring;
    expect(retired).toBe(2);
    expect(made.get('moving-1')!.batches).toEqual([[1], [2]]);
    expect(made.get('moving-1')!.stopped).toBe(true);
    expect(r.has('moving-1')).toBe(false);
    expect(r.has('staying')).toBe(true);
    expect(made.get('staying')!.stopped).toBe(false);
    r.close();
  });
});

describe('Batcher', () => {
  it('flushes items submitted during a flush together, and fails only the items whose slot holds an Error', async () => {
    const flushed: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      flushed.push(items);
      await tick();
      return items.map((i) => (i === 5 ? new Error('five') : i * 10));
    }, 100);
    const first = batcher.submit(1);
    await tick();
    const rest = [2, 3, 4, 5].map((i) => batcher.submit(i));
    await expect(first).resolves.toBe(10);
    await expect(Promise.all(rest.slice(0, 3))).resolves.toEqual([20, 30, 40]);
    await expect(rest[3]).rejects.toThrow('five');
    expect(flushed).toEqual([[1], [2, 3, 4, 5]]);
  });
});
