import { randomBytes } from 'crypto';
import { NatsConnection } from 'nats';
import { Decimal } from '@billing/domain';
import { isolatedNames, readEvents, sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { ControlPlane, eventually } from './support/lifecycle';
import { connectAs } from './support/nats-roles';
import { controlReader } from './support/control-reader';

const MIN = 60_000;
const REPEAT_MS = 400;

/**
 * Stop GPUs (issue 15, item 2) against the real engine, NATS and PostgreSQL: h100-1x costs 2.50 USD
 * an hour and HOLD_MINUTES is 60, so each running GPU holds (about) 2.50; when `available` (total
 * less held) reaches 0 (STOP_OVERDRAFT 0), every GPU running then is sent a stop on the control
 * stream, read here as the control plane reads it: a durable consumer of its own.
 */
describe('stop commands', () => {
  const names = isolatedNames();
  const tag = randomBytes(3).toString('hex');
  let engine: TestEngine;
  let client: WalletClient;
  let plane: ControlPlane;
  let cp: NatsConnection;

  beforeAll(async () => {
    engine = await startEngine({ TICK_INTERVAL_MS: '200', STOP_REPEAT_MS: String(REPEAT_MS) }, names);
    client = await WalletClient.connect(names.subjectPrefix);
    plane = await ControlPlane.connect(names.lifecycleSubjectPrefix);
    cp = await connectAs('control-plane');
  });

  afterAll(async () => {
    await engine?.dispose(client.nc);
    await client?.close();
    await plane?.close();
    await cp?.close();
  });

  const balance = async (org: string) => (await client.request(org, 'balance')).balance;

  /** The control plane's durable consumer of an organization's stop commands. */
  const stopReader = (org: string) => controlReader(cp, names.controlStream, names.subjectPrefix, org, 'stop');

  it('sends one stop per running GPU when available reaches zero, repeats it until STOPPED, and bills by the lifecycle', async () => {
    const org = `stop-${tag}`;
    const reader = await stopReader(org);
    await client.request(org, 'topup', { idempotencyKey: `t-${tag}`, amount: '4.00', currency: 'USD', provider: 'stripe', reference: 'pi_s' });
    const now = Date.now();

    // A GPU that ran and stopped before: charged 10 minutes (0.41666667), holds nothing, gets no stop.
    await plane.publish({ orgId: org, resourceId: 'r-c' }, 'RUNNING', now - 30 * MIN);
    await plane.publish({ orgId: org, resourceId: 'r-c' }, 'STOPPED', now - 20 * MIN);
    await eventually(() => balance(org), (b) => b.exact.total === '3.58333333' && b.exact.held === '0');

    // One GPU running: about 2.50 held, 1.08 available: no stop.
    const startA = now - MIN;
    await plane.publish({ orgId: org, resourceId: 'r-a' }, 'RUNNING', startA);
    await eventually(() => balance(org), (b) => b.exact.held !== '0');
    expect(new Decimal((await balance(org)).exact.available).greaterThan(0)).toBe(true);
    expect(await reader.drain()).toEqual([]);

    // A second one: available falls below zero; a stop for each of the two running.
    const startB = now - MIN;
    await plane.publish({ orgId: org, resourceId: 'r-b' }, 'RUNNING', startB);
    const first = await eventually(() => reader.drain(), (s) => new Set(s.map((c) => c.resourceId)).size >= 2);
    const byResource = new Map(first.map((c) => [c.resourceId, c]));
    expect([...byResource.keys()].sort()).toEqual(['r-a', 'r-b']);
    for (const c of byResource.values()) {
      expect(c).toMatchObject({ orgId: org, reason: 'available_exhausted', subject: `${names.subjectPrefix}.control.${org}.stop` });
      expect(c.commandId).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(byResource.get('r-a').commandId).not.toBe(byResource.get('r-b').commandId);
    const b = await balance(org);
    expect(new Decimal(b.exact.available).lessThanOrEqualTo(0)).toBe(true);

    // Recorded, pending; and announced to the alert service's stream.
    const rows = await sql('select resource_id, command_id::text as command_id, stopped_at from stop_commands where org_id = $1 order by resource_id', [org]);
    expect(rows.map((r) => [r.resource_id, r.command_id, r.stopped_at])).toEqual([
      ['r-a', byResource.get('r-a').commandId, null],
      ['r-b', byResource.get('r-b').commandId, null],
    ]);
    const announced = await readEvents(client.nc, names.eventsStream, `${names.subjectPrefix}.events.${org}.gpu_stop_requested`, 2);
    expect(announced.map((e) => e.commandId).sort()).toEqual([byResource.get('r-a').commandId, byResource.get('r-b').commandId].sort());

    // The control plane may read the commands, not write one.
    await expect(cp.jetstream().publish(`${names.subjectPrefix}.control.${org}.stop`, Buffer.from('{}'), { timeout: 1500 })).rejects.toThrow();

    // Repeated, with the same commandId, while the GPU runs.
    await eventually(() => reader.drain(), (s) => s.filter((c) => c.resourceId === 'r-a').length >= 3, 15_000);
    for (const c of reader.seen) expect(c.commandId).toBe(byResource.get(c.resourceId).commandId);

    // r-a stops a little after the command: it is charged up to STOPPED's `at`, not the command's.
    const stopA = Date.parse(byResource.get('r-a').at) + 1500;
    await plane.publish({ orgId: org, resourceId: 'r-a' }, 'STOPPED', stopA);
    await eventually(
      () => sql('select stopped_at from stop_commands where org_id = $1 and resource_id = $2', [org, 'r-a']),
      (r) => r[0].stopped_at !== null,
    );
    await eventually(
      () => sql(`select coalesce(-sum(amount), 0)::text as charged from ledger_entries where org_id = $1 and resource_id = 'r-a'`, [org]),
      (r) => new Decimal(r[0].charged).equals(new Decimal('2.5').times(stopA - startA).dividedBy(60 * MIN).toDecimalPlaces(8)),
    );
    // No more repeats of r-a once its STOPPED is in (one may have been in flight), while r-b's go on.
    await reader.drain(REPEAT_MS * 2);
    const countA = reader.seen.filter((c) => c.resourceId === 'r-a').length;
    const countB = reader.seen.filter((c) => c.resourceId === 'r-b').length;
    await new Promise((r) => setTimeout(r, REPEAT_MS * 4));
    await reader.drain();
    expect(reader.seen.filter((c) => c.resourceId === 'r-a').length).toBe(countA);
    expect(reader.seen.filter((c) => c.resourceId === 'r-b').length).toBeGreaterThan(countB);

    await plane.publish({ orgId: org, resourceId: 'r-b' }, 'STOPPED', Date.now());
    await eventually(
      () => sql('select count(*)::int as n from stop_commands where org_id = $1 and stopped_at is null', [org]),
      (r) => r[0].n === 0,
    );
    // Never one for the GPU that had stopped before.
    expect(reader.seen.some((c) => c.resourceId === 'r-c')).toBe(false);
  });
});
