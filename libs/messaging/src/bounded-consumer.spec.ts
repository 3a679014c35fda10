import { AckPolicy, ConsumerConfig, DeliverPolicy, nanos } from 'nats';
import { consumerChanges, DurableConsumerSettings, handleBounded, InFlightLimit } from './bounded-consumer';

/** A message the test settles by hand. */
class FakeMessage {
  naked = false;
  constructor(readonly id: number) {}
  nak(): void {
    this.naked = true;
  }
}

/** Messages as a consumer hands them out, counting how many were taken. */
function source(count: number) {
  const state = { taken: 0 };
  async function* messages(): AsyncGenerator<FakeMessage> {
    for (let i = 0; i < count; i++) {
      state.taken++;
      yield new FakeMessage(i);
    }
  }
  return { state, messages: messages() };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('handleBounded', () => {
  it('runs at most the limit of handlers at once and takes the next message only as one finishes', async () => {
    const { state, messages } = source(10);
    const limit = new InFlightLimit(3);
    const finish: Array<() => void> = [];
    let peak = 0;
    const loop = handleBounded(messages, limit, () => {
      // Counted before `run` adds it: this handler is the one more.
      peak = Math.max(peak, limit.size + 1);
      return new Promise<void>((resolve) => finish.push(resolve));
    }, () => false);
    await flush();
    // Three running, and the fourth taken and waiting for a slot: no more.
    expect({ running: limit.size, taken: state.taken }).toEqual({ running: 3, taken: 4 });
    finish.shift()!();
    await flush();
    expect({ running: limit.size, taken: state.taken }).toEqual({ running: 3, taken: 5 });
    while (finish.length > 0 || state.taken < 10) {
      finish.shift()?.();
      await flush();
    }
    await loop;
    await limit.idle();
    expect({ peak, running: limit.size, taken: state.taken }).toEqual({ peak: 3, running: 0, taken: 10 });
  });

  it('hands back what it takes once stopping, and starts none of it', async () => {
    const { messages } = source(5);
    const limit = new InFlightLimit(2);
    const started: number[] = [];
    let stopping = false;
    const release: Array<() => void> = [];
    const all: FakeMessage[] = [];
    const tracking = (async function* () {
      for await (const m of messages) {
        all.push(m);
        yield m;
      }
    })();
    const loop = handleBounded(tracking, limit, (m) => {
      started.push(m.id);
      return new Promise<void>((resolve) => release.push(resolve));
    }, () => stopping);
    await flush();
    stopping = true;
    limit.open();
    await loop;
    const handedBack = all.filter((m) => m.naked).map((m) => m.id);
    expect({ started, handedBack }).toEqual({ started: [0, 1], handedBack: [2, 3, 4] });
    let idle = false;
    const waiting = limit.idle().then(() => (idle = true));
    await flush();
    expect(idle).toBe(false);
    release.forEach((r) => r());
    await waiting;
    expect(limit.size).toBe(0);
  });

  it('frees the slot of a handler that fails', async () => {
    const limit = new InFlightLimit(1);
    limit.run(Promise.reject(new Error('a bug')));
    await limit.idle();
    await limit.slot();
    expect(limit.size).toBe(0);
  });

  it('refuses a limit that would let nothing run', () => {
    expect(() => new InFlightLimit(0)).toThrow(/positive integer/);
  });
});

describe('consumerChanges', () => {
  const wanted: DurableConsumerSettings = {
    name: 'c',
    ackWaitMs: 30_000,
    maxDeliver: -1,
    maxAckPending: 100,
    filterSubjects: ['p.events.*.low_balance', 'p.events.*.depleted'],
    owned: ['max_deliver'],
  };
  const existing = (config: Partial<ConsumerConfig>): ConsumerConfig =>
    ({ durable_name: 'c', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: nanos(10_000), max_deliver: -1, ...config }) as ConsumerConfig;

  it('lifts a delivery limit it owns, and leaves what it does not own as the operator set it', () => {
    expect(consumerChanges(existing({ max_deliver: 20 }), wanted)).toEqual({ update: { max_deliver: -1 }, before: { max_deliver: 20 } });
    expect(consumerChanges(existing({ max_deliver: -1 }), wanted).update).toEqual({});
    expect(consumerChanges(existing({ max_deliver: 0 }), wanted).update).toEqual({});
  });

  it('sets back an ack wait it owns', () => {
    expect(consumerChanges(existing({}), { ...wanted, owned: ['ack_wait'] }).update).toEqual({ ack_wait: nanos(30_000) });
  });

  it('gives a consumer made with fewer filters the current ones, and leaves a single filter alone', () => {
    const owned: DurableConsumerSettings = { ...wanted, owned: ['filter_subjects'] };
    expect(consumerChanges(existing({ filter_subjects: ['p.events.*.low_balance'] }), owned).update).toEqual({ filter_subjects: wanted.filterSubjects });
    expect(consumerChanges(existing({ filter_subjects: ['p.events.*.depleted', 'p.events.*.low_balance'] }), owned).update).toEqual({});
    expect(consumerChanges(existing({ filter_subject: 'p.events.>' }), owned).update).toEqual({});
  });
});
