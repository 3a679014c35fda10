import { randomUUID } from 'crypto';
import { openDatabase, parseShardMap, partitionOf, Shards, TopupReportRepository } from '@billing/persistence';
import { sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { FakeProviders } from './support/fake-providers';
import { startGateway, TestGateway } from './support/gateway';
import { eventually } from './support/lifecycle';
import { startPostgres, TcpProxy, TestPostgres } from './support/servers';

/**
 * The payment mismatch report with shards (README, "PostgreSQL by partition"): two PostgreSQL
 * servers the test starts (initdb in temporary folders, free ports), the global home (the
 * gateway's topup_intents) in a database beside shard a, shard b on the other server behind a TCP
 * proxy the test controls; the engine and the gateway with the same SHARDS, SHARD_MAP and
 * PARTITIONS. Top-ups paid at the (fake) Stripe for organizations of both shards are credited in
 * their shard and not reported missing from the ledger; a credit under a payment's key with no
 * top-up, in shard b, is found. With shard b cut, the report says it is incomplete, naming shard
 * b, and reports none of shard b's top-ups as missing.
 */
const PARTITIONS = 8;

describe('the payment mismatch report reads each organization ledger in its shard', () => {
  let pgA: TestPostgres;
  let pgB: TestPostgres;
  let proxyB: TcpProxy;
  let homeUrl: string;
  let engine: TestEngine;
  let gateway: TestGateway;
  const providers = new FakeProviders('shardreport');
  const { stripe } = providers;

  /** Organization ids of a shard: its partitions are 0-3 (a) or 4-7 (b). */
  const orgOf = (shard: 'a' | 'b', label: string): string => {
    for (let i = 0; ; i++) {
      const org = `shrep-${label}-${i}`;
      if ((partitionOf(org, PARTITIONS) < 4 ? 'a' : 'b') === shard) return org;
    }
  };

  beforeAll(async () => {
    [pgA, pgB] = await Promise.all([startPostgres(), startPostgres()]);
    proxyB = await TcpProxy.start(pgB.url);
    const home = new URL(pgA.url);
    home.pathname = '/home';
    homeUrl = home.toString();
    await sql('create database home', [], pgA.url);
    const sharding = { DATABASE_URL: homeUrl, SHARDS: `a=${pgA.url},b=${proxyB.url}`, SHARD_MAP: '0-3=a,4-7=b', PARTITIONS: String(PARTITIONS) };
    await providers.start();
    engine = await startEngine(sharding);
    gateway = await startGateway(engine.config.subjectPrefix, providers.gatewayEnv(sharding));
    providers.deliverTo(gateway.url);
  }, 180_000);

  afterAll(async () => {
    await gateway?.stop();
    await engine?.stop().catch(() => undefined);
    await providers.stop();
    await proxyB?.close();
    await pgA?.stop();
    await pgB?.stop();
  }, 60_000);

  const startTopup = async (org: string, amount: string): Promise<any> => {
    const res = await fetch(`${gateway.url}/api/v1/topups`, { method: 'POST', headers: { authorization: `Bearer ${gateway.token(org)}`, 'content-type': 'application/json' }, body: JSON.stringify({ amount, currency: 'USD', provider: 'stripe' }) });
    expect(res.status).toBe(201);
    return ((await res.json()) as any).topup;
  };
  const status = async (id: string) => (await sql('select status, ledger_changes_confirmed::int as confirmed from topup_intents where id = $1', [id], homeUrl))[0];
  const report = async (query: string): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${gateway.url}/api/v1/operator/payments/mismatches?${query}`, { headers: { authorization: `Bearer ${gateway.operatorToken('auditor')}` } });
    return { status: res.status, body: await res.json() };
  };
  const keysIn = async (url: string, org: string) => (await sql<{ idempotency_key: string }>('select idempotency_key from ledger_entries where org_id = $1 order by seq', [org], url)).map((r) => r.idempotency_key);

  it('finds paid top-ups in their shard, an orphan in shard b, and says so when shard b cannot be read', async () => {
    const inA = orgOf('a', 'a');
    const inB = orgOf('b', 'b');
    const paid: Record<string, string> = {};
    for (const org of [inA, inB]) {
      const topup = await startTopup(org, '25.00');
      await stripe.pay(topup.stripe.paymentIntentId);
      await eventually(() => status(topup.id), (r) => r?.status === 'succeeded' && r.confirmed >= 1, 20_000);
      paid[org] = topup.id;
    }
    // A credit under a payment's key whose top-up does not exist, in shard b.
    const bus = await WalletClient.connect(engine.config.subjectPrefix, 'gateway');
    const orphanKey = `topup:${randomUUID()}`;
    expect((await bus.request(inB, 'payment.topup', { idempotencyKey: orphanKey, amount: '5.00', currency: 'USD', provider: 'stripe', reference: 'pi_orphan_b' })).ok).toBe(true);
    await bus.close();

    // Each credit is in its organization's shard, none in the home: the report must read the shards.
    expect(await keysIn(pgB.url, inB)).toEqual([`topup:${paid[inB]}`, orphanKey]);
    expect(await keysIn(pgA.url, inA)).toEqual([`topup:${paid[inA]}`]);
    expect(await keysIn(homeUrl, inB)).toEqual([]);

    for (const org of [inA, inB]) {
      const local = await report(`orgId=${org}&check=local`);
      expect(local.status).toBe(200);
      expect(local.body).toMatchObject({ ok: true, complete: true, unreadShards: [], scanned: 1, unchecked: [] });
      expect(local.body.mismatches.filter((m: any) => m.topupId === paid[org])).toEqual([]);
      expect(local.body.mismatches.filter((m: any) => m.kind === 'ledger_without_topup')).toEqual(org === inB ? [expect.objectContaining({ orgId: inB, idempotencyKey: orphanKey, amount: '5' })] : []);
    }
    // The repository itself, reading shard b's payment entries one at a time (the keyset paging):
    // the orphan, newest, and the paid top-up's credit, whose top-up the home has.
    {
      const home = await openDatabase(homeUrl, 2);
      const shards = new Shards(parseShardMap(`a=${pgA.url},b=${pgB.url}`, '0-3=a,4-7=b', PARTITIONS, homeUrl), { url: homeUrl, orm: home }, (url) => openDatabase(url, 2));
      try {
        const scan = await new TopupReportRepository(home, shards, 1).orphanLedgerEntries(new Date(Date.now() - 3_600_000), null, 10);
        expect(scan).toEqual({ entries: [expect.objectContaining({ orgId: inB, idempotencyKey: orphanKey })], failures: [] });
      } finally {
        await shards.close();
        await home.close(true);
      }
    }
    // The whole report (every shard), with the provider asked too.
    const all = await report('');
    expect(all.body).toMatchObject({ ok: true, complete: true, unreadShards: [] });
    expect(all.body.mismatches.filter((m: any) => m.topupId !== undefined)).toEqual([]);
    expect(all.body.mismatches.map((m: any) => [m.kind, m.orgId, m.idempotencyKey])).toEqual([['ledger_without_topup', inB, orphanKey]]);

    // Shard b cut: the report says it could not read shard b; nothing of b is reported missing.
    proxyB.cut('refuse');
    try {
      const cut = await report('check=local');
      expect(cut.status).toBe(200);
      expect(cut.body).toMatchObject({ ok: true, complete: false, unreadShards: [expect.objectContaining({ shard: 'b' })] });
      expect(cut.body.unreadShards).toHaveLength(1);
      expect(cut.body.unchecked).toEqual([{ topupId: paid[inB], provider: 'stripe', reason: 'the ledger (shard b) could not be read' }]);
      expect(cut.body.mismatches).toEqual([]);
    } finally {
      proxyB.restore();
    }
    await eventually(() => report('check=local'), (r) => r.body.complete === true && r.body.mismatches.length === 1, 20_000);
  }, 120_000);
});
