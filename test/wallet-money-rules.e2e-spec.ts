import { Decimal } from '@billing/domain';
import { WalletService } from '../apps/billing/src/wallet/wallet.service';
import { ledgerTotals, readEvents, startEngine, TestEngine, WalletClient } from './support/engine';

/** The money rules of DESIGN.md section 2, through the NATS interface, against real Postgres and NATS. */
describe('wallet money rules over NATS', () => {
  let engine: TestEngine;
  let client: WalletClient;
  const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();

  beforeAll(async () => {
    engine = await startEngine();
    client = await WalletClient.connect(engine.config.subjectPrefix);
  });

  afterAll(async () => {
    await engine.dispose(client.nc);
    await client.close();
  });

  async function expectConsistent(orgId: string) {
    const t = await ledgerTotals(orgId);
    expect(new Decimal(t.ledger).equals(t.grants)).toBe(true);
    expect(new Decimal(t.ledger).equals(t.wallet ?? '0')).toBe(true);
    return t;
  }

  it('spends plan credits first, then vouchers by expiry with scoped before unscoped on ties, then top-up', async () => {
    const org = 'org-order';
    const tie = inDays(10);
    await client.request(org, 'topup', { idempotencyKey: 't1', amount: '100', currency: 'USD', provider: 'stripe', reference: 'pi_1' });
    const late = await client.request(org, 'grant', { idempotencyKey: 'v-late', kind: 'voucher', amount: '5', currency: 'USD', expiresAt: inDays(30) });
    const unscoped = await client.request(org, 'grant', { idempotencyKey: 'v-unscoped', kind: 'voucher', amount: '5', currency: 'USD', expiresAt: tie });
    const scoped = await client.request(org, 'grant', { idempotencyKey: 'v-scoped', kind: 'voucher', amount: '5', currency: 'USD', service: 'ai-notebook', expiresAt: tie });
    const plan = await client.request(org, 'grant', { idempotencyKey: 'p1', kind: 'plan', amount: '5', currency: 'USD', expiresAt: inDays(60) });
    const grantId = (r: any) => r.entry.split[0].grantId;

    const debit = await client.request(org, 'debit', { idempotencyKey: 'd1', amount: '22', service: 'ai-notebook', workspaceId: 'ws-1', resourceId: 'r-1' });
    expect(debit.ok).toBe(true);
    expect(debit.entry.split).toEqual([
      { grantId: grantId(plan), amount: '-5' },
      { grantId: grantId(scoped), amount: '-5' },
      { grantId: grantId(unscoped), amount: '-5' },
      { grantId: grantId(late), amount: '-5' },
      { grantId: expect.any(String), amount: '-2' },
    ]);
    const balance = await client.request(org, 'balance');
    expect(balance.balance).toMatchObject({ currency: 'USD', total: '98.00', plan: '0.00', voucher: '0.00', topup: '98.00', seq: 6 });
    await expectConsistent(org);
  });

  it('falls back to top-up when the only voucher is scoped to another service', async () => {
    const org = 'org-scope';
    await client.request(org, 'topup', { idempotencyKey: 't1', amount: '10', currency: 'USD', provider: 'vnpay', reference: 'ref-1' });
    await client.request(org, 'grant', { idempotencyKey: 'v1', kind: 'voucher', amount: '50', currency: 'USD', service: 'ai-notebook', expiresAt: inDays(5) });
    const debit = await client.request(org, 'debit', { idempotencyKey: 'd1', amount: '3.25', service: 'gpu-container', workspaceId: 'ws-1' });
    expect(debit.entry.split).toHaveLength(1);
    const balance = (await client.request(org, 'balance')).balance;
    expect(balance).toMatchObject({ voucher: '50.00', topup: '6.75', total: '56.75' });
  });

  it('locks the billing currency: before the first top-up to the grants held, after it to the top-up', async () => {
    const org = 'org-currency';
    await client.request(org, 'grant', { idempotencyKey: 'v1', kind: 'voucher', amount: '50000', currency: 'VND', expiresAt: inDays(5) });
    const usd = await client.request(org, 'topup', { idempotencyKey: 't-usd', amount: '10', currency: 'USD', provider: 'stripe', reference: 'pi_2' });
    expect(usd.error.code).toBe('CURRENCY_LOCKED');
    const vnd = await client.request(org, 'topup', { idempotencyKey: 't-vnd', amount: '100000', currency: 'VND', provider: 'vnpay', reference: 'vnp-1' });
    expect(vnd.ok).toBe(true);
    const jpy = await client.request(org, 'grant', { idempotencyKey: 'v-jpy', kind: 'voucher', amount: '100', currency: 'JPY', expiresAt: inDays(5) });
    expect(jpy.error.code).toBe('CURRENCY_LOCKED');
    const b = (await client.request(org, 'balance')).balance;
    expect(b).toMatchObject({ currency: 'VND', total: '150000', voucher: '50000', topup: '100000' });
    const wrong = await client.request(org, 'debit', { idempotencyKey: 'd-usd', amount: '1', service: 'vm', workspaceId: 'ws', currency: 'USD' });
    expect(wrong.error.code).toBe('CURRENCY_MISMATCH');
    expect((await expectConsistent(org)).entries).toBe(2);
  });

  it('charges usage beyond the grants as debt on top-up, publishes depleted, and the next top-up pays the debt first', async () => {
    const org = 'org-debt';
    await client.request(org, 'topup', { idempotencyKey: 't1', amount: '10', currency: 'USD', provider: 'paypal', reference: 'o-1' });
    const d = await client.request(org, 'debit', { idempotencyKey: 'd1', amount: '12.345', service: 'gpu-container', workspaceId: 'ws-1' });
    expect(d.entry.totalAfter).toBe('-2.345');
    expect((await client.request(org, 'balance')).balance).toMatchObject({ total: '-2.34', topup: '-2.34', runwaySeconds: 0 });
    const t = await client.request(org, 'topup', { idempotencyKey: 't2', amount: '5', currency: 'USD', provider: 'paypal', reference: 'o-2' });
    expect(t.entry.totalAfter).toBe('2.655');
    expect(t.entry.split.map((p: any) => p.amount)).toEqual(['2.345', '2.655']);
    await expectConsistent(org);
    const depleted = await readEvents(client.nc, engine.config.eventsStream, `${engine.config.subjectPrefix}.events.${org}.depleted`, 1);
    expect(depleted[0]).toMatchObject({ type: 'depleted', orgId: org, seq: 2, exact: { total: '-2.345' } });
    // Balances are announced live, not kept: the stream holds the durable events only.
    const info = await (await client.nc.jetstreamManager()).streams.info(engine.config.eventsStream, { subjects_filter: `${engine.config.subjectPrefix}.events.${org}.>` });
    expect(info.state.subjects).toEqual({ [`${engine.config.subjectPrefix}.events.${org}.depleted`]: 1 });
  });

  it('writes off an expired voucher with an expire entry and a grant_expired event, even with no charge', async () => {
    const org = 'org-expiry';
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    await client.request(org, 'grant', { idempotencyKey: 'v1', kind: 'voucher', amount: '7.5', currency: 'USD', expiresAt });
    const [expired] = await readEvents(client.nc, engine.config.eventsStream, `${engine.config.subjectPrefix}.events.${org}.grant_expired`, 1, 15_000);
    expect(expired).toMatchObject({ type: 'grant_expired', amount: '7.5', currency: 'USD' });
    const ledger = await client.request(org, 'ledger', {});
    expect(ledger.entries.map((e: any) => [e.type, e.amount])).toEqual([
      ['grant', '7.5'],
      ['expire', '-7.5'],
    ]);
    expect((await expectConsistent(org)).ledger).toBe('0.00000000');
  });

  it('expires a voucher on time in a wallet whose actor was passivated', async () => {
    const quiet = await startEngine({ ACTOR_IDLE_MS: '100', EXPIRY_SWEEP_INTERVAL_MS: '200' });
    const c = await WalletClient.connect(quiet.config.subjectPrefix);
    try {
      const org = 'org-quiet';
      await c.request(org, 'grant', { idempotencyKey: 'v1', kind: 'plan', amount: '3', currency: 'JPY', expiresAt: new Date(Date.now() + 1500).toISOString() });
      const registry = quiet.app.get(WalletService).registry;
      await new Promise((r) => setTimeout(r, 300));
      registry.passivateIdle();
      expect(registry.has(org)).toBe(false);
      const [expired] = await readEvents(c.nc, quiet.config.eventsStream, `${quiet.config.subjectPrefix}.events.${org}.grant_expired`, 1, 15_000);
      expect(expired).toMatchObject({ amount: '3', currency: 'JPY' });
      expect((await ledgerTotals(org)).entries).toBe(2);
    } finally {
      await quiet.dispose(c.nc);
      await c.close();
    }
  });

  it('pages through the ledger with a cursor', async () => {
    const org = 'org-pages';
    await client.request(org, 'topup', { idempotencyKey: 't1', amount: '100', currency: 'JPY', provider: 'stripe', reference: 'pi_3' });
    for (let i = 0; i < 5; i++) await client.request(org, 'debit', { idempotencyKey: `d${i}`, amount: '1.5', service: 'vm', workspaceId: 'ws' });
    const first = await client.request(org, 'ledger', { limit: 4 });
    expect(first.entries.map((e: any) => e.seq)).toEqual([1, 2, 3, 4]);
    const second = await client.request(org, 'ledger', { cursor: first.nextCursor, limit: 4 });
    expect(second.entries.map((e: any) => e.seq)).toEqual([5, 6]);
    expect(second.nextCursor).toBeNull();
    expect((await client.request(org, 'balance')).balance).toMatchObject({ total: '92', exact: { total: '92.5' } });
  });
});
