import { randomUUID } from 'crypto';
import { Subjects } from '@billing/contracts';
import { OutboxRelay } from '@billing/messaging';
import { DiscardPolicy, NatsConnection } from 'nats';
import { deleteStream, isolatedNames, NATS_URL, readEvents, sql, startEngine, WalletClient } from './support/engine';
import { connectAs } from './support/nats-roles';

async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The outbox: an event is committed with its change, and published even when JetStream refused
 * it at first, or the engine stopped between commit and publish.
 */
describe('transactional outbox', () => {
  let nc: NatsConnection;
  beforeAll(async () => {
    // An operator: it changes and deletes the engine's streams, and reads them.
    nc = await connectAs('operator', { url: NATS_URL });
  });
  afterAll(async () => nc.close());

  it('keeps events in the outbox while JetStream refuses them, across an engine restart, and publishes each once when it can', async () => {
    const names = isolatedNames();
    const jsm = await nc.jetstreamManager();
    const first = await startEngine({ OUTBOX_SWEEP_INTERVAL_MS: '100' }, names);
    const client = await WalletClient.connect(names.subjectPrefix);
    const org = 'org-outbox';
    try {
      await client.request(org, 'topup', { idempotencyKey: 't1', amount: '3', currency: 'USD', provider: 'stripe', reference: 'pi_o' });
      await waitFor(async () => (await sql('select count(*)::int as n from outbox_events where subject like $1', [`${names.subjectPrefix}.%`]))[0].n === 0);

      // The stream now exists but is full, and refuses what comes (its limits are the operator's: the engine leaves them): every publish fails.
      const { config } = await jsm.streams.info(names.eventsStream);
      await jsm.streams.update(names.eventsStream, { ...config, max_bytes: 1, discard: DiscardPolicy.New });
      const debit = await client.request(org, 'debit', { idempotencyKey: 'd1', amount: '5', service: 'vm', workspaceId: 'ws' });
      expect(debit.ok).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      const stuck = await sql('select subject from outbox_events where subject like $1 order by id', [`${names.subjectPrefix}.%`]);
      // Only the durable event: the balance is announced on core NATS, never stored.
      expect(stuck.map((r) => r.subject)).toEqual([`${names.subjectPrefix}.events.${org}.depleted`]);
      expect(first.app.get(OutboxRelay).failures).toBeGreaterThan(0);

      // The engine stops with the events still unpublished, as a crash after commit would leave them.
      await first.stop();
      // Room again, and as a stream made before `balance` left it: the next engine sets its subjects to the durable events'.
      await jsm.streams.update(names.eventsStream, { ...config, subjects: [`${names.subjectPrefix}.events.>`] });
      const second = await startEngine({ OUTBOX_SWEEP_INTERVAL_MS: '100' }, names);
      try {
        await waitFor(async () => (await sql('select count(*)::int as n from outbox_events where subject like $1', [`${names.subjectPrefix}.%`]))[0].n === 0);
        expect((await jsm.streams.info(names.eventsStream)).config.subjects.sort()).toEqual(new Subjects(names.subjectPrefix).durableEventSubjects().sort());
        const [depleted] = await readEvents(nc, names.eventsStream, `${names.subjectPrefix}.events.${org}.depleted`, 1);
        expect(depleted).toMatchObject({ orgId: org, seq: 2, exact: { total: '-2' } });
        // Each event once, and no balance (this org's only: the engine also expires other tests' grants on time).
        const info = await jsm.streams.info(names.eventsStream, { subjects_filter: `${names.subjectPrefix}.events.${org}.>` });
        expect(info.state.subjects).toEqual({ [`${names.subjectPrefix}.events.${org}.depleted`]: 1 });
      } finally {
        await second.stop();
      }
    } finally {
      await deleteStream(nc, names.eventsStream);
      await deleteStream(nc, names.lifecycleStream);
      await deleteStream(nc, `KV_${names.ownersBucket}`);
      await client.close();
    }
  });

  it('creates the events stream when it is missing', async () => {
    const names = isolatedNames();
    const engine = await startEngine({}, names);
    try {
      const info = await (await nc.jetstreamManager()).streams.info(names.eventsStream);
      expect(info.config.subjects).toEqual(new Subjects(names.subjectPrefix).durableEventSubjects());
    } finally {
      await engine.dispose(nc);
    }
  });

  it('leaves out a balance row an engine of the earlier version wrote (live only now): never published, never a failure', async () => {
    const names = isolatedNames();
    const engine = await startEngine({ OUTBOX_SWEEP_INTERVAL_MS: '100' }, names);
    const org = 'org-old-balance';
    try {
      await sql(`insert into outbox_events (event_id, subject, payload, org_id) values ($1, $2, $3, $4)`, [randomUUID(), `${names.subjectPrefix}.events.${org}.balance`, JSON.stringify({ orgId: org, seq: 1 }), org]);
      const relay = engine.app.get(OutboxRelay);
      const failures = relay.failures;
      expect(await relay.sweep()).toBe(0);
      expect(relay.failures).toBe(failures);
    } finally {
      await sql(`delete from outbox_events where subject = $1`, [`${names.subjectPrefix}.events.${org}.balance`]);
      await engine.dispose(nc);
    }
  });
});
