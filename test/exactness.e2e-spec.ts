import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import { Decimal, emptyWallet } from '@billing/domain';
import { FencedError, InvariantViolationError, PartitionEpochRepository, PriceVersionRepository, ResourceRepository, Shards, WalletRepository } from '@billing/persistence';
import { MikroORM } from '@mikro-orm/postgresql';
import { Ownership } from '../apps/billing/src/ownership/ownership.service';
import { PriceCatalog } from '../apps/billing/src/resources/price-catalog';
import { isolatedNames, ledgerTotals, sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { ControlPlane, eventually } from './support/lifecycle';

const HOUR = 3_600_000;

/**
 * Each way found to make billing wrong or stop, and what the engine does now (issue "Exact under
 * adversity"). The adversarial test (`adversity.e2e-spec.ts`) proves the whole against a model;
 * these name each path on its own.
 */
describe('exact under adversity: each path', () => {
  const names = isolatedNames();
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
    await client.close();
    await plane?.close();
  });

  const topup = (org: string, amount: string) => client.request(org, 'topup', { idempotencyKey: `t-${org}-${amount}`, amount, currency: 'USD', provider: 'stripe', reference: `pi_${org}` });
  const total = async (org: string) => new Decimal((await client.request(org, 'balance')).balance.exact.total);
  async function consistent(org: string) {
    const t = await ledgerTotals(org);
    expect(new Decimal(t.ledger).equals(t.grants)).toBe(true);
    expect(new Decimal(t.ledger).equals(t.wallet!)).toBe(true);
  }

  it('keeps billing an organization whose late stop gives credit back to a voucher that has expired since', async () => {
    const org = 'ex-wedge';
    await topup(org, '10');
    const expiresAt = Date.now() + 2500;
    expect((await client.request(org, 'grant', { idempotencyKey: 'v1', kind: 'voucher', amount: '5', currency: 'USD', expiresAt: new Date(expiresAt).toISOString() })).ok).toBe(true);
    const r = { orgId: org, resourceId: 'r-wedge' };
    await plane.publish(r, 'RUNNING', Date.now() - HOUR); // 2.50 of it is charged at once, to the voucher
    await eventually(() => total(org), (t) => t.lessThanOrEqualTo('12.5'));
    await eventually(() => sql("select 1 from ledger_entries where org_id = $1 and type = 'expire'", [org]), (rows) => rows.length === 1, 10_000);
    // The stop comes late: the run was 30 minutes shorter, 1.25 goes back to the expired voucher, and is written off again.
    await plane.publish(r, 'STOPPED', Date.now() - HOUR + 30 * 60_000);
    await eventually(() => sql("select idempotency_key from ledger_entries where org_id = $1 and type = 'expire'", [org]), (rows) => rows.length === 2, 10_000);
    // The organization is not wedged: it still takes commands, and its usage is still billed.
    const debit = await client.request(org, 'debit', { idempotencyKey: 'd-after', amount: '1', service: 'vm', workspaceId: 'ws' });
    expect(debit.ok).toBe(true);
    await plane.publish({ orgId: org, resourceId: 'r-next' }, 'RUNNING', Date.now() - HOUR);
    await plane.publish({ orgId: org, resourceId: 'r-next' }, 'DELETED', Date.now() - HOUR / 2);
    await eventually(() => sql('select 1 from ledger_entries where org_id = $1 and resource_id = $2', [org, 'r-next']), (rows) => rows.length > 0);
    await consistent(org);
  });

  it('keeps a resource running through a stop and a restart stamped with the same instant', async () => {
    const org = 'ex-same-instant';
    await topup(org, '100');
    const second = Math.floor((Date.now() - 2 * HOUR) / 1000) * 1000;
    const r = { orgId: org, resourceId: 'r-same' };
    await plane.publish(r, 'RUNNING', second);
    await plane.publish(r, 'STOPPED', second + HOUR);
    await plane.publish(r, 'RUNNING', second + HOUR);
    await plane.publish(r, 'DELETED', second + 90 * 60_000);
    // One run of 90 minutes at 2.50/h.
    await eventually(() => total(org), (t) => t.equals('96.25'));
  });

  it('ends billing on a stop whose fixed attributes disagree, and on one that omits storageGb', async () => {
    const org = 'ex-stop-differs';
    await topup(org, '100');
    const start = Date.now() - 2 * HOUR;
    await plane.publish({ orgId: org, resourceId: 'r-a', storageGb: 100 }, 'RUNNING', start);
    await plane.publish({ orgId: org, resourceId: 'r-a', sku: 'a100-1x', storageGb: 100 }, 'STOPPED', start + HOUR);
    await plane.raw(`${names.lifecycleSubjectPrefix}.${org}.r-a`, JSON.stringify({ eventId: 'e-del', orgId: org, resourceId: 'r-a', workspaceId: 'ws-1', service: 'gpu-container', sku: 'h100-1x', status: 'DELETED', at: new Date(start + HOUR).toISOString() }));
    // 1 h of h100-1x, and 100 GB for 1 h: 2.50 + 0.02; then nothing more.
    await eventually(() => total(org), (t) => t.equals('97.48'));
    await new Promise((r) => setTimeout(r, 800));
    expect((await total(org)).toFixed()).toBe('97.48');
    const [row] = await sql('select recompute_from, storage_gb, sku from resources where org_id = $1', [org]);
    expect(row).toEqual({ recompute_from: null, storage_gb: 100, sku: 'h100-1x' });
  });

  it('answers a grant retried after its expiry has passed as the replay it is', async () => {
    const org = 'ex-replay';
    await topup(org, '1');
    const grant = { idempotencyKey: 'g-soon', kind: 'voucher', amount: '2', currency: 'USD', expiresAt: new Date(Date.now() + 1000).toISOString() };
    const first = await client.request(org, 'grant', grant);
    expect(first.ok).toBe(true);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await client.request(org, 'grant', grant)).toEqual(first);
    const fresh = await client.request(org, 'grant', { ...grant, idempotencyKey: 'g-late' });
    expect(fresh.error.code).toBe('GRANT_ALREADY_EXPIRED');
  });

  it('refuses payment keys on the open top-up subject: a client cannot take a paid top-up key first', async () => {
    const body = { idempotencyKey: 'topup:some-intent', amount: '1000', currency: 'USD', provider: 'stripe', reference: 'pi_forged' };
    expect((await client.request('ex-keys', 'topup', body)).error.code).toBe('INVALID_FIELD');
    // `payment.*` is the gateway's alone (NATS refuses it to every other user: nats-security.e2e-spec).
    const gateway = await WalletClient.connect(names.subjectPrefix, 'gateway');
    try {
      expect((await gateway.request('ex-keys', 'payment.topup', { ...body, idempotencyKey: 'not-a-payment' })).error.code).toBe('INVALID_FIELD');
      expect((await gateway.request('ex-keys', 'payment.topup', body)).ok).toBe(true);
    } finally {
      await gateway.close();
    }
  });

  it('lets the database refuse a batch that breaks the ledger, and a writer whose partition was taken since', async () => {
    const org = 'ex-db-checks';
    await topup(org, '10');
    const repo = engine.app.get(WalletRepository);
    const epoch = engine.app.get(Ownership).fence(org)!;
    const loaded = await repo.load(org);
    // A total that does not follow from the entries (none), as a buggy engine might send.
    const forged = { ...loaded.state, grants: loaded.state.grants.map((g) => ({ ...g, remaining: g.remaining.plus(5) })) };
    const other = await repo.load('ex-db-other');
    const [broken, ok] = await repo.commit([
      { orgId: org, expectedVersion: loaded.version, epoch, state: forged, entries: [], grants: forged.grants, meters: [], events: [] },
      { orgId: 'ex-db-other', expectedVersion: other.version, epoch: engine.app.get(Ownership).fence('ex-db-other')!, state: emptyWallet('ex-db-other'), entries: [], grants: [], meters: [], events: [] },
    ]);
    expect(broken).toBeInstanceOf(InvariantViolationError);
    expect((broken as InvariantViolationError).reason).toMatch(/does not move by its parts/);
    // The other wallet of the same group commit is not held back by it.
    expect(Array.isArray(ok)).toBe(true);
    // Another process takes the partition: this engine's epoch is stale, and nothing it writes lands.
    const { partitions, ownersBucket } = engine.config;
    const taken = await new PartitionEpochRepository(engine.app.get(Shards), { group: ownersBucket, partitions }).take([engine.app.get(Ownership).partitionOf(org)], 'intruder');
    expect([...taken.values()][0]).toBeGreaterThan(epoch);
    const [fenced] = await repo.commit([{ orgId: org, expectedVersion: loaded.version, epoch, state: loaded.state, entries: [], grants: [], meters: [], events: [] }]);
    expect(fenced).toBeInstanceOf(FencedError);
    const resources = engine.app.get(ResourceRepository);
    const record = { orgId: org, resourceId: 'r-fenced', workspaceId: 'ws', service: 'vm', sku: 'h100-1x', storageGb: null, events: [], periods: { gpu: [], storage: null, running: false, deleted: false }, recomputeFromMs: null };
    expect(await resources.save(record, epoch)).toBe(false);
    // The engine notices at its next write there, gives the partition up, and takes it again through its lease.
    expect((await client.request(org, 'debit', { idempotencyKey: 'after-fence', amount: '1', service: 'vm', workspaceId: 'ws' })).error.code).toBe('UNAVAILABLE');
    const retried = await eventually(() => client.request(org, 'debit', { idempotencyKey: 'after-fence', amount: '1', service: 'vm', workspaceId: 'ws' }), (r) => r.ok, 20_000);
    expect(retried.entry.totalAfter).toBe('9');
    await consistent(org);
  });

  it('refuses to start with a catalog that leaves a SKU unpriced in a currency, or that re-prices what was billed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'catalog-'));
    const all = (usd: string) => ({ USD: usd, VND: '62000', JPY: '380' });
    const versions = new PriceVersionRepository(engine.app.get(MikroORM));
    const incomplete = path.join(dir, 'incomplete.json');
    writeFileSync(incomplete, JSON.stringify({ gpu: { 'h100-1x': { USD: '2.50', JPY: '380' } }, storagePerGbHour: all('0.0002') }));
    await expect(PriceCatalog.open(incomplete, versions, 300_000)).rejects.toThrow(/gpu\.h100-1x has no price in VND/);
    // The shipped catalog is in force since always; a new price without an effective instant would re-price it.
    const repriced = path.join(dir, 'repriced.json');
    writeFileSync(repriced, JSON.stringify({ gpu: { 'h100-1x': all('9.99'), 'h100-8x': all('20'), 'h200-1x': all('3.2'), 'a100-1x': all('1.6'), 'l40s-1x': all('1.1') }, storagePerGbHour: { USD: '0.0002', VND: '5', JPY: '0.03' } }));
    await expect(PriceCatalog.open(repriced, versions, 300_000)).rejects.toThrow(/since always.*differs from the one already in use/);
    // The same change, from an instant far enough ahead, is recorded and priced from then on.
    const changeAt = Date.now() + 400_000;
    const future = path.join(dir, 'future.json');
    writeFileSync(future, JSON.stringify({ versions: [{ effectiveFrom: new Date(changeAt).toISOString(), ...JSON.parse(readFileSync(repriced, 'utf8')) }] }));
    const book = (await PriceCatalog.open(future, versions, 300_000)).book;
    expect(book.gpuRatePerHour('h100-1x', 'USD', changeAt - 1).toFixed()).toBe('2.5');
    expect(book.gpuRatePerHour('h100-1x', 'USD', changeAt).toFixed()).toBe('9.99');
    await sql('delete from price_versions where effective_from > now()');
  });

  it('keeps committing a wallet whose version is past 32 bits', async () => {
    const org = 'ex-version';
    await topup(org, '5');
    await sql('update wallets set version = 3000000000 where org_id = $1', [org]);
    await engine.app.get(Ownership).fenced(org); // drops the partition's actors: the wallet is read again
    const d = await eventually(() => client.request(org, 'debit', { idempotencyKey: 'd-big', amount: '1', service: 'vm', workspaceId: 'ws' }), (r) => r.ok, 20_000);
    expect(d.entry.totalAfter).toBe('4');
    const [w] = await sql('select version::text from wallets where org_id = $1', [org]);
    expect(BigInt(w.version)).toBeGreaterThan(3000000000n);
  });
});
