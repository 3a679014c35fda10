import { Decimal } from '@billing/domain';
import { ledgerTotals, startEngine, TestEngine, WalletClient } from './support/engine';
import { eventually } from './support/lifecycle';

/** Billing plans: credit each period, consumed first, expiring at the period's end unless it rolls over. */
describe('plan credits', () => {
  let engine: TestEngine;
  let client: WalletClient;
  const admin = (command: string, body: object) =>
    client.nc.request(`${engine.config.subjectPrefix}.admin.${command}`, Buffer.from(JSON.stringify(body)), { timeout: 10_000 }).then((m) => JSON.parse(Buffer.from(m.data).toString()));
  const ledgerTypes = async (org: string) => (await client.request(org, 'ledger', { limit: 500 })).entries.map((e: any) => [e.type, e.amount]);

  beforeAll(async () => {
    engine = await startEngine({ PLAN_SWEEP_INTERVAL_MS: '100' });
    client = await WalletClient.connect(engine.config.subjectPrefix);
  });

  afterAll(async () => {
    await engine.dispose(client.nc);
    await client.close();
  });

  it('grants the plan each period, spends it first, rolls over up to the cap and writes off the rest', async () => {
    const org = 'pl-roll';
    const periodMs = 3000;
    const startsAt = new Date(Date.now() + 300);
    const sub = await admin('plans.subscribe', { orgId: org, plan: 'Pro', amount: '10', currency: 'USD', periodSeconds: periodMs / 1000, rolloverCap: '3', startsAt: startsAt.toISOString() });
    expect(sub).toMatchObject({ ok: true, subscription: { plan: 'Pro', amount: '10', rolloverCap: '3' } });
    await eventually(async () => (await client.request(org, 'balance')).balance.plan, (p) => p === '10.00');
    await client.request(org, 'topup', { idempotencyKey: 't', amount: '50', currency: 'USD', provider: 'stripe', reference: 'pi_plan' });
    const d = await client.request(org, 'debit', { idempotencyKey: 'd', amount: '5', service: 'vm', workspaceId: 'ws' });
    expect(d.entry.split).toHaveLength(1); // plan credit only: it is consumed first
    await eventually(async () => (await client.request(org, 'balance')).balance.plan, (p) => p === '13.00', 10_000);
    expect(await ledgerTypes(org)).toEqual([
      ['grant', '10'],
      ['topup', '50'],
      ['debit', '-5'],
      ['rollover', '0'],
      ['expire', '-2'],
      ['grant', '10'],
    ]);
    const t = await ledgerTotals(org);
    expect(new Decimal(t.ledger).equals(t.grants)).toBe(true);
    expect(new Decimal(t.ledger).equals('63')).toBe(true);

    expect((await admin('plans.cancel', { subscriptionId: sub.subscription.id })).ok).toBe(true);
    await new Promise((r) => setTimeout(r, periodMs + 500));
    const after = await ledgerTypes(org);
    expect(after.filter(([type]: string[]) => type === 'grant')).toHaveLength(2);
  });

  it('refuses a malformed subscription', async () => {
    expect((await admin('plans.subscribe', { orgId: 'pl-bad', plan: 'X', amount: '10', currency: 'USD' })).error.code).toBe('INVALID_FIELD');
    expect((await admin('plans.subscribe', { orgId: 'pl-bad', plan: 'X', amount: '-1', currency: 'USD', periodDays: 30 })).error.code).toBe('INVALID_AMOUNT');
    expect((await admin('plans.unknown', {})).error.code).toBe('UNKNOWN_COMMAND');
  });
});
