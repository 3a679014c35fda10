import { randomBytes } from 'crypto';
import { NatsConnection } from 'nats';
import { Decimal } from '@billing/domain';
import { isolatedNames, readEvents, sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { ControlPlane, eventually } from './support/lifecycle';
import { connectAs } from './support/nats-roles';
import { controlReader } from './support/control-reader';
import { ControlPlaneSimulator } from '../apps/simulator/src/control-plane.simulator';

const HOUR = 3_600_000;
const REPEAT_MS = 400;
/** 100,000 GB at 0.0002 USD per GB-hour: storage bills 20 USD an hour. */
const STORAGE_GB = 100_000;

/**
 * The enforcement ladder's storage step and an organization's overrides (issue 15, item 2), against
 * the real engine, NATS and PostgreSQL. A resource stopped two hours ago with 100,000 GB of storage
 * owes about 40 USD of storage at once: a wallet of 5 USD falls to about -35, past the storage debt
 * limit (10 by default), and the countdown to deleting its stored data begins.
 */
describe('the storage step of the enforcement ladder', () => {
  const names = isolatedNames();
  const tag = randomBytes(3).toString('hex');
  let engine: TestEngine;
  let client: WalletClient;
  let plane: ControlPlane;
  let cp: NatsConnection;

  beforeAll(async () => {
    engine = await startEngine({ TICK_INTERVAL_MS: '200', STOP_REPEAT_MS: String(REPEAT_MS), EXPIRY_SWEEP_INTERVAL_MS: '500' }, names);
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
  const events = (org: string, type: string, n: number, ms?: number) => readEvents(client.nc, names.eventsStream, `${names.subjectPrefix}.events.${org}.${type}`, n, ms);

  /** The control plane's durable consumer of an organization's delete_storage commands. */
  const deleteReader = (org: string) => controlReader(cp, names.controlStream, names.subjectPrefix, org, 'delete_storage');

  /** Credit, then a GPU that ran a minute two hours ago and has kept its storage since. */
  async function intoStorageDebt(org: string, resourceId: string): Promise<void> {
    await client.request(org, 'topup', { idempotencyKey: `t-${org}`, amount: '5.00', currency: 'USD', provider: 'stripe', reference: `pi_${org}` });
    const r = { orgId: org, resourceId, storageGb: STORAGE_GB };
    const start = Date.now() - 2 * HOUR;
    await plane.publish(r, 'RUNNING', start);
    await plane.publish(r, 'STOPPED', start + 60_000);
  }

  it('an operator overrides the ladder for one organization (audited); bad settings are refused and change nothing', async () => {
    const org = `lad-${tag}`;
    const defaults = await client.request(org, 'ladder.get');
    expect(defaults).toMatchObject({ ok: true, settings: { minRunwayMinutes: 10, runwayMarks: [86400, 3600, 600], stopOverdraft: '0', storageDebtLimit: '10', storageDeletionDays: '7', storageReminderDays: ['3', '1'] }, storage: null });
    expect(defaults.overrides).toEqual({ minRunwayMinutes: null, runwayMarks: null, stopOverdraft: null, storageDebtLimit: null, storageDeletionDays: null, storageReminderDays: null });

    const set = await client.request(org, 'ladder.set', { stopOverdraft: '2.5', storageDeletionDays: '14', runwayMarks: [7200] });
    expect(set).toMatchObject({ ok: true, settings: { runwayMarks: [7200], stopOverdraft: '2.5', storageDebtLimit: '10', storageDeletionDays: '14' }, overrides: { stopOverdraft: '2.5', storageDebtLimit: null } });
    const audit = await sql(`select a.operator, o.outcome from operator_actions a join operator_action_outcomes o on o.action_id = a.id where a.org_id = $1 and a.command = 'wallet.ladder.set'`, [org]);
    expect(audit).toEqual([{ operator: 'test-operator', outcome: 'ok' }]);

    for (const bad of [{ stopOverdraft: '-1' }, { runwayMarks: [0] }, { runwayMarks: [99999999] }, { storageDeletionDays: '0' }, { storageDeletionDays: '400' }, { storageReminderDays: ['1', '1'] }, { minRunwayMinutes: -1 }, { minRunwayMinutes: '60' }, { minRunwayMinutes: 20000 }, { storageDebtLimit: '0' }, { stopOverdraft: '50' }, { colour: 'red' }, {}]) {
      const refused = await client.request(org, 'ladder.set', bad);
      expect(refused.ok).toBe(false);
      expect(['INVALID_FIELD', 'MISSING_FIELD']).toContain(refused.error.code);
    }
    expect((await client.request(org, 'ladder.get')).settings).toEqual(set.settings);
    // The snapshot says where the organization stands with its own settings.
    await client.request(org, 'topup', { idempotencyKey: `t-${org}`, amount: '1.00', currency: 'USD', provider: 'stripe', reference: 'pi_l' });
    expect((await balance(org)).ladder).toEqual({ step: 'ok', runwayMarkSeconds: null, stopAt: '-2.5', storageDebtLimit: '10', storageDeletionAt: null });
    // Block launches with the organization's own minimum runway: 1.00 covers 10 minutes of an H100 (0.42), not 60 (2.50).
    const authorize = () => client.request(org, 'authorize', { service: 'gpu-container', sku: 'h100-1x', workspaceId: 'ws-1' });
    expect((await authorize()).authorized).toBe(true);
    await client.request(org, 'ladder.set', { minRunwayMinutes: 60 });
    const refused = await authorize();
    expect(refused).toMatchObject({ authorized: false, required: '2.5' });
    expect(refused.reason).toContain('60 minutes');
    await client.request(org, 'ladder.set', { minRunwayMinutes: null });
    expect((await authorize()).authorized).toBe(true);
    // Back to a default with null; kept across a restart of the engine.
    await client.request(org, 'ladder.set', { runwayMarks: null });
    await engine.stop();
    engine = await startEngine({ TICK_INTERVAL_MS: '200', STOP_REPEAT_MS: String(REPEAT_MS), EXPIRY_SWEEP_INTERVAL_MS: '500' }, names);
    const after = await eventually(() => client.request(org, 'ladder.get'), (r) => r.ok === true);
    expect(after.settings).toMatchObject({ runwayMarks: [86400, 3600, 600], stopOverdraft: '2.5', storageDeletionDays: '14' });
  });

  it('schedules the deletion when storage debt reaches the limit; a top-up that pays the debt cancels it', async () => {
    const org = `cancel-${tag}`;
    await intoStorageDebt(org, 'r-1');
    const [scheduled] = await events(org, 'storage_suspension_scheduled', 1);
    expect(scheduled).toMatchObject({ orgId: org, currency: 'USD', exact: { storageDebtLimit: '10' } });
    expect(new Decimal(scheduled.exact.total).lessThanOrEqualTo(-10)).toBe(true);
    // The default countdown: 7 days.
    expect(Date.parse(scheduled.deleteAt) - Date.parse(scheduled.at)).toBe(7 * 24 * HOUR);
    const b = await balance(org);
    expect(b.ladder).toMatchObject({ step: 'storage_deletion_scheduled', storageDeletionAt: scheduled.deleteAt });
    expect((await client.request(org, 'ladder.get')).storage).toMatchObject({ suspensionId: scheduled.suspensionId, deleteAt: scheduled.deleteAt });

    // A top-up short of the debt cancels nothing; one that brings the total to zero or more does.
    await client.request(org, 'topup', { idempotencyKey: `t2-${org}`, amount: '1.00', currency: 'USD', provider: 'stripe', reference: 'pi_c2' });
    expect((await balance(org)).ladder.step).toBe('storage_deletion_scheduled');
    await client.request(org, 'topup', { idempotencyKey: `t3-${org}`, amount: '100.00', currency: 'USD', provider: 'stripe', reference: 'pi_c3' });
    const [cancelled] = await events(org, 'storage_suspension_cancelled', 1);
    expect(cancelled).toMatchObject({ suspensionId: scheduled.suspensionId });
    expect(new Decimal(cancelled.exact.total).greaterThanOrEqualTo(0)).toBe(true);
    await eventually(() => balance(org), (x) => x.ladder.step !== 'storage_deletion_scheduled' && x.ladder.storageDeletionAt === null);
    const rows = await sql('select cancelled_at is not null as cancelled, deletion_requested_at from storage_suspensions where org_id = $1', [org]);
    expect(rows).toEqual([{ cancelled: true, deletion_requested_at: null }]);
    expect(await sql(`select count(*)::int as n from stop_commands where org_id = $1 and command = 'delete_storage'`, [org])).toEqual([{ n: 0 }]);
  });

  it('reminds, then asks the control plane to delete the stored data, and repeats it until DELETED (short settings of its own)', async () => {
    const org = `del-${tag}`;
    const reader = await deleteReader(org);
    // About 8.6 s to the deletion, a reminder about 4.3 s before it.
    const set = await client.request(org, 'ladder.set', { storageDeletionDays: '0.0001', storageReminderDays: ['0.00005'] });
    expect(set.ok).toBe(true);
    await intoStorageDebt(org, 'r-1');
    // A GPU whose stop the control plane has not carried out yet: its data is covered by the deletion too.
    const r2 = { orgId: org, resourceId: 'r-2', storageGb: 1000 };
    await plane.publish(r2, 'RUNNING', Date.now() - 60_000);
    const [scheduled] = await events(org, 'storage_suspension_scheduled', 1);
    expect(Date.parse(scheduled.deleteAt) - Date.parse(scheduled.at)).toBe(8640);
    const [reminder] = await events(org, 'storage_suspension_reminder', 1, 15_000);
    expect(reminder).toMatchObject({ suspensionId: scheduled.suspensionId, reminder: 1, deleteAt: scheduled.deleteAt });
    expect(Date.parse(reminder.at)).toBeGreaterThanOrEqual(Date.parse(scheduled.deleteAt) - 4320);
    expect(Date.parse(reminder.at)).toBeLessThan(Date.parse(scheduled.deleteAt));

    const commands = await eventually(() => reader.drain(), (s) => new Set(s.map((c) => c.resourceId)).size >= 2, 20_000);
    const byResource = new Map(commands.map((c) => [c.resourceId, c]));
    expect([...byResource.keys()].sort()).toEqual(['r-1', 'r-2']);
    const c1 = byResource.get('r-1');
    expect(c1).toMatchObject({ orgId: org, reason: 'storage_debt_unpaid', subject: `${names.subjectPrefix}.control.${org}.delete_storage` });
    expect(Date.parse(c1.at)).toBeGreaterThanOrEqual(Date.parse(scheduled.deleteAt));
    const requested = await events(org, 'storage_deletion_requested', 2);
    expect(requested.find((e) => e.resourceId === 'r-1')).toMatchObject({ suspensionId: scheduled.suspensionId, commandId: c1.commandId, workspaceId: 'ws-1' });
    // The organization stands at "stored data deleted" until the debt is paid.
    expect((await balance(org)).ladder).toMatchObject({ step: 'storage_deleted', storageDeletionAt: scheduled.deleteAt });

    // Repeated with the same id until the resource's DELETED is committed; then no more.
    await eventually(() => reader.drain(), (s) => s.filter((c) => c.resourceId === 'r-1').length >= 3, 15_000);
    expect(new Set(reader.seen.filter((c) => c.resourceId === 'r-1').map((c) => c.commandId))).toEqual(new Set([c1.commandId]));
    await plane.publish({ orgId: org, resourceId: 'r-1', storageGb: STORAGE_GB }, 'DELETED', Date.now());
    // r-2 stopped, then started again (the customer paid, the control plane let it run): its deletion is withdrawn.
    await plane.publish(r2, 'STOPPED', Date.now());
    await plane.publish(r2, 'RUNNING', Date.now() + 1);
    await eventually(
      () => sql(`select resource_id, stopped_at from stop_commands where org_id = $1 and command = 'delete_storage' order by resource_id`, [org]),
      (r) => r.length === 2 && r.every((x) => x.stopped_at !== null),
    );
    await reader.drain(REPEAT_MS * 2);
    const count = reader.seen.length;
    await new Promise((r) => setTimeout(r, REPEAT_MS * 4));
    await reader.drain();
    expect(reader.seen.length).toBe(count);
    // One countdown, one deletion: a reminder or a command more would be a second event.
    expect(await events(org, 'storage_suspension_reminder', 2, 1500)).toHaveLength(1);
    expect(await events(org, 'storage_deletion_requested', 3, 1500)).toHaveLength(2);
    // The debt paid: the organization no longer stands at "stored data deleted".
    const owed = new Decimal((await balance(org)).exact.total).negated();
    await client.request(org, 'topup', { idempotencyKey: `pay-${org}`, amount: owed.plus(100).toFixed(2), currency: 'USD', provider: 'stripe', reference: 'pi_pay' });
    await eventually(() => balance(org), (b) => b.ladder.step !== 'storage_deleted' && b.ladder.storageDeletionAt === null);
    expect(await sql('select settled_at is not null as settled from storage_suspensions where org_id = $1', [org])).toEqual([{ settled: true }]);
  });

  it("the demo's simulated control plane obeys delete_storage: the resource is DELETED and its command ends", async () => {
    const sim = new ControlPlaneSimulator(cp, { walletPrefix: names.subjectPrefix, lifecyclePrefix: names.lifecycleSubjectPrefix, orgs: 1, resourcesPerOrg: 1, currency: 'USD', topup: '0', skus: ['h100-1x'], services: ['gpu-container'], orgPrefix: `sim-${tag}` }, client.nc);
    const [r] = sim.resources;
    const subscription = sim.obeyStops();
    try {
      // About 2.6 s to the deletion, no reminder.
      expect((await client.request(r.orgId, 'ladder.set', { storageDeletionDays: '0.00003', storageReminderDays: [] })).ok).toBe(true);
      await intoStorageDebt(r.orgId, r.resourceId);
      r.status = 'STOPPED';
      await eventually(async () => r.status, (s) => s === 'DELETED', 20_000);
      await eventually(
        () => sql(`select stopped_at from stop_commands where org_id = $1 and command = 'delete_storage'`, [r.orgId]),
        (rows) => rows.length === 1 && rows[0].stopped_at !== null,
      );
    } finally {
      subscription.unsubscribe();
    }
  });
});
