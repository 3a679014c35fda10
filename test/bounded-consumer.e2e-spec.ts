import { JsMsg, NatsConnection } from 'nats';
import { BoundedConsumer, lifecycleStreamSpec } from '@billing/messaging';
import { deleteStream, isolatedNames } from './support/engine';
import { eventually } from './support/lifecycle';
import { connectAs } from './support/nats-roles';

/**
 * The shared JetStream consumer (libs/messaging/src/bounded-consumer.ts) against the real NATS,
 * as the engine runs it: the `billing` user on a lifecycle stream of the test's own, the control
 * plane publishing, an operator managing the consumer.
 */
describe('a bounded JetStream consumer', () => {
  const names = isolatedNames();
  let engine: NatsConnection;
  let plane: NatsConnection;
  let operator: NatsConnection;
  const consumers: BoundedConsumer[] = [];

  beforeAll(async () => {
    [engine, plane, operator] = await Promise.all([connectAs('billing'), connectAs('control-plane'), connectAs('operator')]);
  });

  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    await deleteStream(operator, names.lifecycleStream);
    await Promise.all([engine, plane, operator].map((nc) => nc.close()));
  });

  /** A consumer of the test's stream whose handler the test controls. */
  function consumer(maxInFlight: number, handle: (m: JsMsg) => Promise<void>): BoundedConsumer {
    const c = new BoundedConsumer(engine, {
      logContext: 'TestConsumer',
      stream: lifecycleStreamSpec(names.lifecycleStream, names.lifecycleSubjectPrefix, 1),
      consumer: { name: names.lifecycleConsumer, ackWaitMs: 30_000, maxDeliver: -1, maxAckPending: 1000, filterSubjects: [`${names.lifecycleSubjectPrefix}.>`], owned: ['max_deliver'] },
      maxInFlight,
      restartDelayMs: 200,
      handle,
    });
    consumers.push(c);
    return c;
  }

  const publish = (id: string) => plane.jetstream().publish(`${names.lifecycleSubjectPrefix}.org.${id}`, Buffer.from(id), { msgID: id });

  it('handles at most its limit of messages at once, takes the rest as handlers finish, and waits for those under way when stopped', async () => {
    const held: Array<() => void> = [];
    const done = new Set<string>();
    let running = 0;
    let peak = 0;
    const c = consumer(3, async (m) => {
      peak = Math.max(peak, ++running);
      await new Promise<void>((resolve) => held.push(resolve));
      running--;
      done.add(m.subject);
      m.ack();
    });
    await c.start();
    for (let i = 0; i < 10; i++) await publish(`bound-${i}`);
    await eventually(async () => held.length, (n) => n === 3);
    expect({ inFlight: c.inFlight, handled: c.handled }).toEqual({ inFlight: 3, handled: 3 });
    // Each one finished lets exactly one more in.
    for (let finished = 1; finished <= 7; finished++) {
      held.shift()!();
      await eventually(async () => ({ held: held.length, done: done.size }), (n) => n.held === 3 && n.done === finished);
    }
    expect(peak).toBe(3);
    // Three under way: stop waits for them.
    let stopped = false;
    const stopping = c.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(stopped).toBe(false);
    held.splice(0).forEach((release) => release());
    await stopping;
    expect({ done: done.size, inFlight: c.inFlight }).toEqual({ done: 10, inFlight: 0 });
  });

  it('starts over when its consumer is deleted, and handles what is published after', async () => {
    const seen = new Set<string>();
    const c = consumer(10, async (m) => {
      seen.add(Buffer.from(m.data).toString('utf8'));
      m.ack();
    });
    await c.start();
    await publish('before-delete');
    await eventually(async () => seen.has('before-delete'), (ok) => ok);
    await (await operator.jetstreamManager()).consumers.delete(names.lifecycleStream, names.lifecycleConsumer);
    await publish('after-delete');
    await eventually(async () => seen.has('after-delete'), (ok) => ok, 20_000);
    expect(c.restarts).toBeGreaterThanOrEqual(1);
    const info = await (await operator.jetstreamManager()).consumers.info(names.lifecycleStream, names.lifecycleConsumer);
    expect(info.config.max_deliver).toBe(-1);
  });
});
