import { randomBytes } from 'crypto';
import { isolatedNames, readEvents, startEngine, TestEngine, WalletClient } from './support/engine';
import { ControlPlane, eventually } from './support/lifecycle';

/**
 * Runway warnings (issue 15, item 2, warn) against the real engine, NATS and PostgreSQL:
 * `runway_low` when the time to zero at the current burn falls below a mark, once per crossing
 * (the same warning made again after a restart is the same event), re-armed by a top-up.
 */
describe('runway warnings', () => {
  const names = isolatedNames();
  const org = `runway-${randomBytes(3).toString('hex')}`;
  const env = { TICK_INTERVAL_MS: '200', RUNWAY_MARKS: '3600,600' };
  let engine: TestEngine;
  let client: WalletClient;
  let plane: ControlPlane;
  let key = 0;

  beforeAll(async () => {
    engine = await startEngine(env, names);
    client = await WalletClient.connect(names.subjectPrefix);
    plane = await ControlPlane.connect(names.lifecycleSubjectPrefix);
  });

  afterAll(async () => {
    await engine?.dispose(client.nc);
    await client?.close();
    await plane?.close();
  });

  const topup = (amount: string) => client.request(org, 'topup', { idempotencyKey: `t-${++key}`, amount, currency: 'USD', provider: 'bank', reference: `b-${key}` });
  const subject = `${names.subjectPrefix}.events.${org}.runway_low`;
  const inStream = async () => {
    const info = await (await client.nc.jetstreamManager()).streams.info(names.eventsStream, { subjects_filter: subject });
    return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  };

  it('warns once when the runway falls below a mark, not again after a restart, and again after a top-up re-armed it', async () => {
    expect((await topup('2.00')).ok).toBe(true);
    // One H100 at 2.50 an hour: 2.00 lasts 48 minutes, below the 1-hour mark, above the 10-minute one.
    await plane.publish({ orgId: org, resourceId: 'r-1' }, 'RUNNING', Date.now() - 60_000);
    const [first] = await readEvents(client.nc, names.eventsStream, subject, 1);
    expect(first).toMatchObject({ type: 'runway_low', orgId: org, markSeconds: 3600, currency: 'USD', burnRatePerHour: '2.50' });
    expect(first.runwaySeconds).toBeLessThan(3600);
    expect(first.runwaySeconds).toBeGreaterThan(2700);

    // A restart: the new process does not know the burn before its first meter, and warns again: the same event, dropped.
    await engine.stop();
    engine = await startEngine(env, names);
    await eventually(async () => (await client.request(org, 'balance')).balance.burnRatePerHour, (r) => r === '2.50');
    await new Promise((r) => setTimeout(r, 1000));
    expect(await inStream()).toBe(1);

    // A top-up lifts it above the mark and re-arms it; a charge brings it below again: a second warning.
    expect((await topup('100.00')).ok).toBe(true);
    expect((await client.request(org, 'debit', { idempotencyKey: `d-${++key}`, amount: '100', service: 'vm', workspaceId: 'ws-1' })).ok).toBe(true);
    await eventually(inStream, (n) => n === 2);
    const both = await readEvents(client.nc, names.eventsStream, subject, 2);
    expect(both[1].eventId).not.toBe(first.eventId);
    await plane.publish({ orgId: org, resourceId: 'r-1' }, 'DELETED', Date.now());
  });
});
