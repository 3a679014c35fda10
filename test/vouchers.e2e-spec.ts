import { readEvents, startEngine, TestEngine, WalletClient } from './support/engine';

/** Voucher codes: created by an admin, redeemed once per organization, the maximum held under a race. */
describe('voucher codes', () => {
  let engine: TestEngine;
  let client: WalletClient;
  const create = (body: object) => client.nc.request(`${engine.config.subjectPrefix}.admin.vouchers.create`, Buffer.from(JSON.stringify(body)), { timeout: 10_000 }).then((m) => JSON.parse(Buffer.from(m.data).toString()));
  const redeem = (org: string, code: string, key = `r-${code}`) => client.request(org, 'redeem', { idempotencyKey: key, code });

  beforeAll(async () => {
    engine = await startEngine();
    client = await WalletClient.connect(engine.config.subjectPrefix);
  });

  afterAll(async () => {
    await engine.dispose(client.nc);
    await client.close();
  });

  it('grants a scoped voucher on redemption, shown as its own line with scope and expiry, and answers a retry with the first result', async () => {
    expect(await create({ code: 'NOTEBOOK20', amount: '20', currency: 'USD', service: 'ai-notebook', expiresAfterDays: 30, maxRedemptions: 5 })).toMatchObject({ ok: true });
    const first = await redeem('vo-a', 'NOTEBOOK20');
    expect(first.entry).toMatchObject({ type: 'grant', amount: '20', service: 'ai-notebook', reference: 'voucher:NOTEBOOK20' });
    expect(await redeem('vo-a', 'NOTEBOOK20')).toEqual(first);
    const again = await redeem('vo-a', 'NOTEBOOK20', 'another-request');
    expect(again.error.code).toBe('VOUCHER_ALREADY_REDEEMED');
    const { balance } = await client.request('vo-a', 'balance');
    expect(balance.vouchers).toEqual([{ grantId: first.entry.split[0].grantId, remaining: '20', display: '20.00', service: 'ai-notebook', expiresAt: expect.any(String) }]);
    const days = (Date.parse(balance.vouchers[0].expiresAt) - Date.now()) / 86400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
  });

  it('refuses an unknown, expired, ended or duplicate code with its reason, and bad input', async () => {
    expect((await redeem('vo-b', 'NOPE-NOPE')).error.code).toBe('UNKNOWN_VOUCHER_CODE');
    await create({ code: 'ENDED', amount: '5', currency: 'USD', expiresAfterDays: 3, maxRedemptions: 5, campaignEndsAt: new Date(Date.now() - 1000).toISOString() });
    expect((await redeem('vo-b', 'ENDED')).error.code).toBe('VOUCHER_CAMPAIGN_ENDED');
    await create({ code: 'OLD', amount: '5', currency: 'USD', expiresAt: new Date(Date.now() + 300).toISOString(), maxRedemptions: 5 });
    await new Promise((r) => setTimeout(r, 400));
    expect((await redeem('vo-b', 'OLD')).error.code).toBe('VOUCHER_EXPIRED');
    expect((await create({ code: 'OLD', amount: '5', currency: 'USD', expiresAfterDays: 3, maxRedemptions: 5 })).error.code).toBe('VOUCHER_CODE_EXISTS');
    expect((await create({ code: 'BAD', amount: '5', currency: 'USD', maxRedemptions: 5 })).error.code).toBe('INVALID_FIELD');
    expect((await create({ code: 'BAD', amount: 5, currency: 'USD', expiresAfterDays: 3, maxRedemptions: 5 })).error.code).toBe('INVALID_AMOUNT');
    expect((await client.request('vo-b', 'grant', { idempotencyKey: 'voucher:X', kind: 'plan', amount: '1', currency: 'USD' })).error.code).toBe('INVALID_FIELD');
  });

  it('holds the maximum when 100 organizations race for a code with 10 redemptions', async () => {
    await create({ code: 'RACE10', amount: '1.5', currency: 'USD', expiresAfterDays: 7, maxRedemptions: 10 });
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => redeem(`vo-race-${i}`, 'RACE10')));
    const granted = replies.filter((r) => r.ok);
    expect(granted).toHaveLength(10);
    expect(new Set(replies.filter((r) => !r.ok).map((r) => r.error.code))).toEqual(new Set(['VOUCHER_EXHAUSTED']));
    expect(new Set(granted.map((r) => r.entry.orgId ?? r.entry.id)).size).toBe(10);
  });

  it('announces a voucher expiring with credit left once, before it expires, even in a passivated wallet', async () => {
    const quiet = await startEngine({ GRANT_EXPIRING_NOTICE_MS: '1500', ACTOR_IDLE_MS: '100', EXPIRY_SWEEP_INTERVAL_MS: '200' });
    const c = await WalletClient.connect(quiet.config.subjectPrefix);
    try {
      const org = 'vo-expiring';
      const expiresAt = new Date(Date.now() + 2500).toISOString();
      await c.request(org, 'grant', { idempotencyKey: 'g', kind: 'voucher', amount: '4', currency: 'USD', service: 'vm', expiresAt });
      const read = async (type: string) => readEvents(c.nc, quiet.config.eventsStream, `${quiet.config.subjectPrefix}.events.${org}.${type}`, 1, 15_000);
      const [expiring, expired, depleted] = [await read('grant_expiring'), await read('grant_expired'), await read('depleted')].map(([e]) => e);
      expect(expiring).toMatchObject({ remaining: '4', service: 'vm', expiresAt });
      expect(expired).toMatchObject({ amount: '4', service: 'vm' });
      expect(depleted).toBeDefined();
      expect(Date.parse(expiring.at)).toBeLessThan(Date.parse(expired.at));
      // Once each.
      const info = await (await c.nc.jetstreamManager()).streams.info(quiet.config.eventsStream, { subjects_filter: `${quiet.config.subjectPrefix}.events.${org}.>` });
      expect(Object.values(info.state.subjects ?? {})).toEqual([1, 1, 1]);
    } finally {
      await quiet.dispose(c.nc);
      await c.close();
    }
  });

  it('gives the redemption back when the wallet bills in another currency', async () => {
    await client.request('vo-vnd', 'topup', { idempotencyKey: 't', amount: '100000', currency: 'VND', provider: 'vnpay', reference: 'v1' });
    await create({ code: 'USDONLY', amount: '5', currency: 'USD', expiresAfterDays: 3, maxRedemptions: 1 });
    expect((await redeem('vo-vnd', 'USDONLY')).error.code).toBe('CURRENCY_LOCKED');
    expect((await redeem('vo-usd', 'USDONLY')).ok).toBe(true);
  });
});
