import { randomBytes } from 'crypto';
import { Decimal } from '@billing/domain';
import { isolatedNames, ledgerTotals, sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { ControlPlane, eventually } from './support/lifecycle';

const MIN = 60_000;

/**
 * Holds (issue 15, item 1) against the real engine, NATS and PostgreSQL: h100-1x costs 2.50 USD an
 * hour and HOLD_MINUTES is 60, so a GPU running since t0 holds, at the instant its charges are
 * committed up to, what its run will still be charged until t0 + 60 min; `available` is then the
 * total less that, which a charge within the period does not move.
 */
describe('holds', () => {
  const names = isolatedNames();
  const tag = randomBytes(3).toString('hex');
  let engine: TestEngine;
  let client: WalletClient;
  let plane: ControlPlane;

  beforeAll(async () => {
    engine = await startEngine({ TICK_INTERVAL_MS: '200' }, names);
    client = await WalletClient.connect(names.subjectPrefix);
    plane = await ControlPlane.connect(names.lifecycleSubjectPrefix);
  });

  afterAll(async () => {
    await engine?.dispose(client.nc);
    await client?.close();
    await plane?.close();
  });

  const topup = (org: string, amount: string) =>
    client.request(org, 'topup', { idempotencyKey: `t-${amount}-${randomBytes(3).toString('hex')}`, amount, currency: 'USD', provider: 'stripe', reference: 'pi_h' });
  const balance = async (org: string) => (await client.request(org, 'balance')).balance;
  const authorize = (org: string) => client.request(org, 'authorize', { service: 'gpu-container', sku: 'h100-1x', workspaceId: 'ws-1' });

  it('holds the next period of a RUNNING GPU, lets its charges draw from the hold, and releases the rest at STOPPED', async () => {
    const org = `hold-run-${tag}`;
    await topup(org, '100.00');
    expect(await balance(org)).toMatchObject({ held: '0.00', available: '100.00', exact: { held: '0', available: '100' } });
    const start = Date.now() - 10 * MIN;
    const r = { orgId: org, resourceId: 'r-hold' };
    await plane.publish(r, 'RUNNING', start);

    const first = await eventually(() => balance(org), (b) => b.exact.held !== '0');
    const held = new Decimal(first.exact.held);
    const total = new Decimal(first.exact.total);
    // What is held is exactly what the run still owes until the period's end: 2.50 less what it was charged.
    expect(held.plus(new Decimal(100).minus(total)).toFixed()).toBe('2.5');
    expect(held.greaterThan(0) && held.lessThan('2.5')).toBe(true);
    expect(first.exact.available).toBe('97.5');
    expect(first.available).toBe('97.50');
    expect(new Decimal(first.held).plus(first.available).toFixed(2)).toBe(first.total);

    // A later charge draws from the hold: the total goes down, the hold by as much, available stays.
    const later = await eventually(() => balance(org), (b) => new Decimal(b.exact.total).lessThan(total));
    const charge = total.minus(later.exact.total);
    expect(new Decimal(later.exact.held).toFixed()).toBe(held.minus(charge).toFixed());
    expect(later.exact.available).toBe('97.5');

    // Holds are not money: the ledger, the grants and the wallet agree, and no entry mentions a hold.
    const t = await ledgerTotals(org);
    expect(new Decimal(t.ledger).equals(t.grants)).toBe(true);
    expect(new Decimal(t.ledger).equals(later.exact.total)).toBe(true);
    expect((await sql('select distinct type from ledger_entries where org_id = $1 order by type', [org])).map((e) => e.type)).toEqual(['debit', 'topup']);

    const stop = Date.now();
    await plane.publish(r, 'STOPPED', stop);
    const after = await eventually(() => balance(org), (b) => b.exact.held === '0' && new Decimal(b.exact.total).equals(new Decimal(100).minus(new Decimal('2.5').times(stop - start).dividedBy(60 * MIN).toDecimalPlaces(8))));
    expect(after.exact.available).toBe(after.exact.total);
    expect(await sql('select * from holds where org_id = $1', [org])).toEqual([]);
  });

  it('announces live a stop that moves no money: the hold and the burn go, the seq stays', async () => {
    // An engine that does not tick: the RUNNING's own meter charges up to when it was applied, and a
    // STOPPED stamped exactly there charges nothing more.
    const quietNames = isolatedNames();
    const quiet = await startEngine({ TICK_INTERVAL_MS: '3600000' }, quietNames);
    const c = await WalletClient.connect(quietNames.subjectPrefix);
    const p = await ControlPlane.connect(quietNames.lifecycleSubjectPrefix);
    const org = `hold-live-${tag}`;
    try {
      await c.request(org, 'topup', { idempotencyKey: 't-live', amount: '100.00', currency: 'USD', provider: 'stripe', reference: 'pi_l' });
      const r = { orgId: org, resourceId: 'r-live' };
      await p.publish(r, 'RUNNING', Date.now() - 10 * MIN);
      const running = await eventually(async () => (await c.request(org, 'balance')).balance, (b) => b.exact.held !== '0');
      const [meter] = await sql('select until from meters where org_id = $1', [org]);
      const announced: any[] = [];
      const sub = c.nc.subscribe(`${quietNames.subjectPrefix}.events.${org}.balance`, { callback: (_e, m) => announced.push(JSON.parse(Buffer.from(m.data).toString('utf8'))) });
      await c.nc.flush();
      await p.publish(r, 'STOPPED', new Date(meter.until).getTime());
      const live = await eventually(async () => announced.find((e) => e.exact.held === '0'), (e) => e !== undefined);
      sub.unsubscribe();
      expect(live).toMatchObject({ seq: running.seq, previousSeq: running.seq, burnRatePerHour: '0.00', runwaySeconds: null, exact: { total: running.exact.total, available: running.exact.total } });
      expect(Date.parse(live.at)).toBeGreaterThan(Date.parse(running.at));
    } finally {
      await quiet.dispose(c.nc).catch(() => undefined);
      await c.close();
      await p.close();
    }
  });

  it('refuses a launch when what is available would not cover the minimum runway, though the usable balance would', async () => {
    const org = `hold-auth-${tag}`;
    // 10 minutes of h100-1x: 0.41666667. 2.80 covers it; 2.80 less a 2.50 hour held does not.
    await topup(org, '2.80');
    const before = await authorize(org);
    expect(before).toMatchObject({ ok: true, authorized: true, held: '0', available: '2.8', required: '0.41666667' });

    await plane.publish({ orgId: org, resourceId: 'r-auth' }, 'RUNNING', Date.now() - 1000);
    await eventually(() => balance(org), (b) => b.exact.held !== '0');
    const refused = await authorize(org);
    expect(refused.ok).toBe(true);
    expect(refused.authorized).toBe(false);
    expect(new Decimal(refused.usable).greaterThanOrEqualTo(refused.required)).toBe(true);
    expect(new Decimal(refused.available).lessThan(refused.required)).toBe(true);
    expect(new Decimal(refused.usable).minus(refused.held).toFixed()).toBe(refused.available);
    expect(refused.reason).toMatch(/held for running GPUs/);
    expect(refused.balance.exact.held).toBe(refused.held);
  });

  it('holds the same right after a restart, before any tick, from what the last commit recorded', async () => {
    const restartNames = isolatedNames();
    const org = `hold-restart-${tag}`;
    const first = await startEngine({ TICK_INTERVAL_MS: '200' }, restartNames);
    const c = await WalletClient.connect(restartNames.subjectPrefix);
    const p = await ControlPlane.connect(restartNames.lifecycleSubjectPrefix);
    let second: TestEngine | undefined;
    try {
      await c.request(org, 'topup', { idempotencyKey: 't-restart', amount: '50.00', currency: 'USD', provider: 'stripe', reference: 'pi_r' });
      await p.publish({ orgId: org, resourceId: 'r-restart' }, 'RUNNING', Date.now() - 5 * MIN);
      await eventually(async () => (await c.request(org, 'balance')).balance, (b) => b.exact.held !== '0');
      await first.stop();
      const [row] = await sql('select amount::text as amount from holds where org_id = $1', [org]);
      const [wallet] = await sql('select total::text as total from wallets where org_id = $1', [org]);
      expect(new Decimal(row.amount).greaterThan(0)).toBe(true);

      // A new process on the same names: its ticker would not come round for minutes, so what it
      // shows is what it loaded.
      second = await startEngine({ TICK_INTERVAL_MS: '3600000' }, restartNames);
      const b = (await c.request(org, 'balance')).balance;
      expect(b.exact.total).toBe(new Decimal(wallet.total).toFixed());
      expect(b.exact.held).toBe(new Decimal(row.amount).toFixed());
      expect(b.exact.available).toBe('47.5');
      const refusedOrNot = await c.request(org, 'authorize', { service: 'gpu-container', sku: 'h100-1x', workspaceId: 'ws-1' });
      expect(refusedOrNot.available).toBe('47.5');

      // And the stop still releases it.
      await p.publish({ orgId: org, resourceId: 'r-restart' }, 'STOPPED', Date.now());
      await eventually(async () => (await c.request(org, 'balance')).balance, (x) => x.exact.held === '0');
    } finally {
      await (second ?? first).dispose(c.nc).catch(() => undefined);
      await c.close();
      await p.close();
    }
  });
});
