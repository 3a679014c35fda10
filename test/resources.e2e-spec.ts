import { Decimal } from '@billing/domain';
import { LifecycleConsumer } from '../apps/billing/src/resources/lifecycle.consumer';
import { isolatedNames, ledgerTotals, readEvents, sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { ControlPlane, eventually } from './support/lifecycle';

const HOUR = 3_600_000;

/** Resource billing (DESIGN.md section 3) from real lifecycle messages on JetStream. */
describe('resource billing from lifecycle events', () => {
  const names = isolatedNames();
  const env = { TICK_INTERVAL_MS: '200' };
  let engine: TestEngine;
  let client: WalletClient;
  let plane: ControlPlane;

  beforeAll(async () => {
    engine = await startEngine(env, names);
    client = await WalletClient.connect(names.subjectPrefix);
    plane = await ControlPlane.connect(names.lifecycleSubjectPrefix);
  });

  afterAll(async () => {
    await engine?.dispose(client.nc);
    await client.close();
    await plane?.close();
  });

  const topup = (org: string, amount: string, currency = 'USD') =>
    client.request(org, 'topup', { idempotencyKey: `t-${amount}-${Math.random()}`, amount, currency, provider: 'stripe', reference: 'pi_r' });
  const total = async (org: string) => new Decimal((await client.request(org, 'balance')).balance.exact.total);
  const charged = (org: string, start: string) => async () => new Decimal(start).minus(await total(org));
  async function consistent(org: string) {
    const t = await ledgerTotals(org);
    expect(new Decimal(t.ledger).equals(t.grants)).toBe(true);
    expect(new Decimal(t.ledger).equals(t.wallet!)).toBe(true);
  }

  it('bills a run of known length exactly, by catch-up when its events are in the past', async () => {
    const org = 'res-run';
    await topup(org, '100.00');
    const start = Date.now() - 3 * HOUR;
    const r = { orgId: org, resourceId: 'r-run' };
    await plane.publish(r, 'PENDING', start - 60_000);
    await plane.publish(r, 'RUNNING', start);
    await plane.publish(r, 'STOPPED', start + 90 * 60_000 + 1234);
    // 2.50/h for 1 h 30 min 1.234 s = 3.75085694444... rounded once to 8 decimals
    await eventually(charged(org, '100'), (c) => c.equals('3.75085694'));
    await new Promise((r) => setTimeout(r, 600));
    expect((await charged(org, '100')()).toFixed()).toBe('3.75085694');
    await consistent(org);
  });

  it('bills storage from the first RUNNING to DELETED, also while the resource is stopped', async () => {
    const org = 'res-storage';
    await topup(org, '100.00');
    const start = Date.now() - 5 * HOUR;
    const r = { orgId: org, resourceId: 'r-disk', storageGb: 100 };
    await plane.publish(r, 'RUNNING', start);
    await plane.publish(r, 'STOPPED', start + HOUR);
    await plane.publish(r, 'DELETED', start + 3 * HOUR);
    // GPU 1 h x 2.50 + storage 100 GB x 3 h x 0.0002
    await eventually(charged(org, '100'), (c) => c.equals('2.56'));
    const usage = await client.request(org, 'usage', { from: new Date(start - HOUR).toISOString(), to: new Date().toISOString() });
    const sum = usage.usage.reduce((s: Decimal, u: any) => s.plus(u.amount), new Decimal(0));
    expect(sum.toFixed()).toBe('2.56');
    expect(usage.usage.reduce((s: Decimal, u: any) => s.plus(u.gpuHours), new Decimal(0)).toFixed()).toBe('1');
    await consistent(org);
  });

  it('cuts charges at UTC midnight and reports usage per workspace, service, resource and day, matching the ledger', async () => {
    const org = 'res-usage';
    await topup(org, '100.00');
    const midnight = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000;
    const a = { orgId: org, resourceId: 'r-night', workspaceId: 'ws-a' };
    const b = { orgId: org, resourceId: 'r-day', workspaceId: 'ws-b', service: 'ai-notebook', sku: 'a100-1x' };
    await plane.publish(a, 'RUNNING', midnight - HOUR);
    await plane.publish(a, 'STOPPED', midnight + 2 * HOUR);
    await plane.publish(b, 'RUNNING', midnight + HOUR);
    await plane.publish(b, 'STOPPED', midnight + HOUR + 30 * 60_000);
    await eventually(charged(org, '100'), (c) => c.equals('8.3'));
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const usage = await client.request(org, 'usage', { from: new Date(midnight - 2 * HOUR).toISOString(), to: new Date().toISOString() });
    expect(usage.usage).toEqual([
      { workspaceId: 'ws-a', service: 'gpu-container', resourceId: 'r-night', day: day(midnight - HOUR), amount: '2.5', display: '2.50', gpuHours: '1' },
      { workspaceId: 'ws-a', service: 'gpu-container', resourceId: 'r-night', day: day(midnight), amount: '5', display: '5.00', gpuHours: '2' },
      { workspaceId: 'ws-b', service: 'ai-notebook', resourceId: 'r-day', day: day(midnight), amount: '0.8', display: '0.80', gpuHours: '0.5' },
    ]);
    const onlyB = await client.request(org, 'usage', { from: new Date(midnight - 2 * HOUR).toISOString(), to: new Date().toISOString(), workspaceId: 'ws-b' });
    expect(onlyB.usage.map((u: any) => u.resourceId)).toEqual(['r-day']);
    const [ledger] = await sql("select (-sum(amount))::text as total from ledger_entries where org_id = $1 and resource_id is not null", [org]);
    expect(new Decimal(ledger.total).toFixed()).toBe('8.3');
  });

  it('handles duplicated and out-of-order events: the total follows the events sorted by time', async () => {
    const org = 'res-order';
    await topup(org, '100.00');
    const start = Date.now() - 4 * HOUR;
    const r = { orgId: org, resourceId: 'r-order' };
    await plane.publish(r, 'STOPPED', start + 2 * HOUR, 'e-stop');
    const running = await plane.publish(r, 'RUNNING', start, 'e-run');
    await plane.publish(r, 'RUNNING', start, running); // the same event again
    await plane.publish(r, 'RUNNING', start + 3 * HOUR, 'e-run-2');
    await plane.publish(r, 'FAILED', start + 3 * HOUR + 30 * 60_000, 'e-failed');
    await eventually(charged(org, '100'), (c) => c.equals('6.25'));
    const [row] = await sql('select jsonb_array_length(events) as n from resources where org_id = $1', [org]);
    expect(row.n).toBe(4);
  });

  it('corrects a stop that arrives after ticks billed past it with a refund entry', async () => {
    const org = 'res-late';
    await topup(org, '100.00');
    const start = Date.now() - HOUR;
    const r = { orgId: org, resourceId: 'r-late' };
    await plane.publish(r, 'RUNNING', start);
    await eventually(charged(org, '100'), (c) => c.greaterThanOrEqualTo('2.5'));
    await plane.publish(r, 'STOPPING', start + 30 * 60_000);
    await eventually(charged(org, '100'), (c) => c.equals('1.25'));
    const ledger = await client.request(org, 'ledger', { limit: 500 });
    const corrections = ledger.entries.filter((e: any) => e.type === 'correction');
    // One refund per UTC day billed past the stop: the stop's day, and today if the run crossed
    // midnight (the test runs at any hour). Meter keys are meter:<resource>:<day>:<n>.
    const dayOf = (e: any) => e.idempotencyKey.split(':')[2];
    const billedDays: string[] = [...new Set<string>(ledger.entries.filter((e: any) => e.type === 'debit' && e.resourceId === 'r-late').map(dayOf))];
    const stopDay = new Date(start + 30 * 60_000).toISOString().slice(0, 10);
    expect(corrections.map(dayOf).sort()).toEqual(billedDays.filter((d) => d >= stopDay).sort());
    expect(corrections.length).toBeGreaterThanOrEqual(1);
    for (const c of corrections) expect(new Decimal(c.amount).greaterThan(0)).toBe(true);
    await consistent(org);
  });

  it('spends a voucher scoped to the resource\'s service first, and top-up for other services', async () => {
    const org = 'res-scoped';
    await topup(org, '100.00');
    await client.request(org, 'grant', { idempotencyKey: 'v', kind: 'voucher', amount: '1.00', currency: 'USD', service: 'ai-notebook', expiresAt: new Date(Date.now() + 86400_000).toISOString() });
    const start = Date.now() - 2 * HOUR;
    await plane.publish({ orgId: org, resourceId: 'nb', service: 'ai-notebook' }, 'RUNNING', start);
    await plane.publish({ orgId: org, resourceId: 'nb', service: 'ai-notebook' }, 'STOPPED', start + HOUR);
    await plane.publish({ orgId: org, resourceId: 'ct', service: 'gpu-container' }, 'RUNNING', start);
    await plane.publish({ orgId: org, resourceId: 'ct', service: 'gpu-container' }, 'STOPPED', start + HOUR);
    await eventually(charged(org, '101'), (c) => c.equals('5'));
    const b = (await client.request(org, 'balance')).balance;
    expect(b).toMatchObject({ voucher: '0.00', topup: '96.00' });
  });

  it('authorizes a start only when the balance usable for the service covers the minimum runway', async () => {
    const org = 'res-authorize';
    const ask = (service: string, sku = 'h100-1x') => client.request(org, 'authorize', { service, sku, workspaceId: 'ws-1' });
    expect((await ask('gpu-container')).error.code).toBe('NO_BILLING_CURRENCY');
    await topup(org, '0.40'); // 10 minutes of h100-1x cost 0.41666667
    const refused = await ask('gpu-container');
    expect(refused).toMatchObject({ ok: true, authorized: false, usable: '0.4', balance: { total: '0.40' } });
    expect(refused.reason).toMatch(/does not cover 10 minutes/);
    await client.request(org, 'grant', { idempotencyKey: 'v', kind: 'voucher', amount: '1', currency: 'USD', service: 'ai-notebook', expiresAt: new Date(Date.now() + 86400_000).toISOString() });
    expect((await ask('gpu-container')).authorized).toBe(false);
    expect((await ask('ai-notebook')).authorized).toBe(true);
    expect((await ask('ai-notebook', 'tpu-9000')).error.code).toBe('UNKNOWN_SKU');
  });

  it('reports the burn rate and runway, and names the running resources when the wallet is depleted', async () => {
    const org = 'res-depleted';
    await topup(org, '1.00');
    const r = { orgId: org, resourceId: 'r-burn', storageGb: 50 };
    await plane.publish(r, 'RUNNING', Date.now() - 30 * 60_000);
    const [depleted] = await readEvents(client.nc, names.eventsStream, `${names.subjectPrefix}.events.${org}.depleted`, 1, 20_000);
    expect(depleted.runningResources).toEqual([{ resourceId: 'r-burn', workspaceId: 'ws-1', service: 'gpu-container', sku: 'h100-1x' }]);
    const b = (await client.request(org, 'balance')).balance;
    expect(b.exact.burnRatePerHour).toBe('2.51');
    expect(b.runwaySeconds).toBe(0);
    await topup(org, '100.00');
    const after = (await client.request(org, 'balance')).balance;
    expect(after.runwaySeconds).toBeGreaterThan(140_000);
    expect(after.runwaySeconds).toBeLessThan(144_000);
    await plane.publish(r, 'DELETED', Date.now());
  });

  it('sends one low_balance event per downward crossing of a threshold, re-armed when the balance rises above it', async () => {
    const org = 'res-alerts';
    await topup(org, '100.00');
    expect(await client.request(org, 'alerts.set', { lowBalance: ['50', '10'] })).toEqual({ ok: true, lowBalance: ['10', '50'] });
    const debit = (key: string, amount: string) => client.request(org, 'debit', { idempotencyKey: key, amount, service: 'vm', workspaceId: 'ws' });
    await debit('d1', '45'); // 55
    await debit('d2', '10'); // 45: crosses 50
    await debit('d3', '5'); // 40
    await topup(org, '20'); // 60: re-armed
    await debit('d4', '55'); // 5: crosses 50 and 10
    const events = await readEvents(client.nc, names.eventsStream, `${names.subjectPrefix}.events.${org}.low_balance`, 3);
    // Crossings of one commit are published together; their order in the stream is not promised.
    events.sort((a, b) => a.seq - b.seq || Number(b.threshold) - Number(a.threshold));
    expect(events.map((e) => [e.threshold, e.exact.total])).toEqual([
      ['50', '45'],
      ['50', '5'],
      ['10', '5'],
    ]);
    await new Promise((r) => setTimeout(r, 300));
    const info = await (await client.nc.jetstreamManager()).streams.getMessage(names.eventsStream, { last_by_subj: `${names.subjectPrefix}.events.${org}.low_balance` });
    expect(JSON.parse(Buffer.from(info.data).toString()).seq).toBe(6);
  });

  it('records malformed and unknown events as rejected with the reason, and keeps consuming', async () => {
    const org = 'res-rejects';
    await topup(org, '100.00');
    const prefix = names.lifecycleSubjectPrefix;
    await plane.raw(`${prefix}.${org}.r-x`, '{not json');
    await plane.raw(`${prefix}.${org}.r-x`, JSON.stringify({ eventId: 'e1', orgId: 'someone-else', resourceId: 'r-x', workspaceId: 'w', service: 'vm', sku: 'h100-1x', status: 'RUNNING', at: new Date().toISOString() }));
    await plane.publish({ orgId: org, resourceId: 'r-tpu', sku: 'tpu-9000' }, 'RUNNING', Date.now() - HOUR);
    await plane.publish({ orgId: org, resourceId: 'r-x' }, 'BOOTING', Date.now());
    const start = Date.now() - HOUR;
    await plane.publish({ orgId: org, resourceId: 'r-ok' }, 'RUNNING', start);
    await plane.publish({ orgId: org, resourceId: 'r-ok' }, 'STOPPED', start + 6 * 60_000);
    await eventually(charged(org, '100'), (c) => c.equals('0.25'));
    const rejected = await eventually(
      () => sql("select reason from rejected_lifecycle_events where subject like $1 order by id", [`${prefix}.${org}.%`]),
      (rows) => rows.length === 4,
    );
    expect(rejected.map((r) => r.reason.split(':')[0])).toEqual(expect.arrayContaining(['MALFORMED_JSON', 'SUBJECT_MISMATCH', 'UNKNOWN_SKU', 'INVALID_FIELD']));
    expect(engine.app.get(LifecycleConsumer).rejected).toBeGreaterThanOrEqual(4);
  });

  it('bills a run across an engine restart exactly once: events published while it is down are billed when it is back', async () => {
    const org = 'res-restart';
    await topup(org, '100.00');
    const start = Date.now() - 10 * 60_000;
    const r = { orgId: org, resourceId: 'r-restart', storageGb: 10 };
    await plane.publish(r, 'RUNNING', start);
    await eventually(charged(org, '100'), (c) => c.greaterThan('0.4'));
    await engine.stop();
    const stopAt = Date.now() + 1500;
    await plane.publish(r, 'STOPPED', stopAt);
    await plane.publish(r, 'DELETED', stopAt + 1000);
    await new Promise((r) => setTimeout(r, 500));
    engine = await startEngine(env, names);
    const elapsed = stopAt - start;
    const expected = new Decimal('2.50').times(elapsed).dividedBy(HOUR).toDecimalPlaces(8, Decimal.ROUND_HALF_EVEN)
      .plus(new Decimal('0.0002').times(10).times(elapsed + 1000).dividedBy(HOUR).toDecimalPlaces(8, Decimal.ROUND_HALF_EVEN));
    await eventually(charged(org, '100'), (c) => c.equals(expected), 30_000);
    await new Promise((r) => setTimeout(r, 600));
    expect((await charged(org, '100')()).equals(expected)).toBe(true);
    await consistent(org);
  });
});
