import { Decimal } from '@billing/domain';
import { VersionConflictError, WalletRepository } from '@billing/persistence';
import { Ownership } from '../apps/billing/src/ownership/ownership.service';
import { WalletService } from '../apps/billing/src/wallet/wallet.service';
import { isolatedNames, ledgerTotals, sql, startEngine, TestEngine, WalletClient } from './support/engine';

describe('wallet actor under concurrency', () => {
  let engine: TestEngine;
  let clients: WalletClient[];

  beforeAll(async () => {
    engine = await startEngine({ ACTOR_IDLE_MS: '300' });
    clients = await Promise.all(Array.from({ length: 8 }, () => WalletClient.connect(engine.config.subjectPrefix)));
  });

  afterAll(async () => {
    await engine.dispose(clients[0].nc);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('applies 1,000 concurrent debits from many clients exactly once each, and the ledger sums to the balance', async () => {
    const org = 'org-hot';
    await clients[0].request(org, 'topup', { idempotencyKey: 'seed', amount: '1000.00', currency: 'USD', provider: 'stripe', reference: 'pi_seed' });
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        clients[i % clients.length].request(org, 'debit', { idempotencyKey: `d-${i}`, amount: '0.123', service: 'gpu-container', workspaceId: `ws-${i % 3}`, resourceId: `r-${i % 10}` }),
      ),
    );
    expect(replies.filter((r) => !r.ok)).toEqual([]);
    const seqs = replies.map((r) => r.entry.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 1000 }, (_, i) => i + 2));
    const balance = (await clients[1].request(org, 'balance')).balance;
    expect(balance.exact.total).toBe('877');
    const totals = await ledgerTotals(org);
    expect(totals.entries).toBe(1001);
    expect(new Decimal(totals.ledger).equals('877')).toBe(true);
    expect(new Decimal(totals.grants).equals('877')).toBe(true);
    expect(new Decimal(totals.wallet!).equals('877')).toBe(true);
  });

  it('answers a retried idempotency key with the first result and no second effect, even when the retries race', async () => {
    const org = 'org-retry';
    await clients[0].request(org, 'topup', { idempotencyKey: 'seed', amount: '50', currency: 'USD', provider: 'stripe', reference: 'pi_r' });
    const body = { idempotencyKey: 'charge-42', amount: '7.77', service: 'vm', workspaceId: 'ws-1' };
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => clients[i % clients.length].request(org, 'debit', body)));
    const ids = new Set(replies.map((r) => r.entry.id));
    expect(ids.size).toBe(1);
    // After the actor has been passivated, the key is found in the ledger, not in memory.
    await new Promise((r) => setTimeout(r, 700));
    const later = await clients[0].request(org, 'debit', body);
    expect(later).toEqual(replies[0]);
    const conflict = await clients[0].request(org, 'debit', { ...body, amount: '7.78' });
    expect(conflict.error.code).toBe('IDEMPOTENCY_CONFLICT');
    expect((await ledgerTotals(org)).entries).toBe(2);
    expect((await clients[0].request(org, 'balance')).balance.exact.total).toBe('42.23');
  });

  it('passivates idle wallet actors and reloads them from the database on the next command', async () => {
    const org = 'org-passive';
    const service = engine.app.get(WalletService);
    await clients[0].request(org, 'topup', { idempotencyKey: 'seed', amount: '20', currency: 'USD', provider: 'stripe', reference: 'pi_p' });
    expect(service.registry.has(org)).toBe(true);
    await new Promise((r) => setTimeout(r, 700));
    service.registry.passivateIdle();
    expect(service.registry.has(org)).toBe(false);
    const d = await clients[0].request(org, 'debit', { idempotencyKey: 'd1', amount: '1', service: 'vm', workspaceId: 'ws' });
    expect(d.entry).toMatchObject({ seq: 2, totalAfter: '19' });
  });

  it('refuses with MAILBOX_FULL past the mailbox limit, and whatever it accepted adds up', async () => {
    const small = await startEngine({ MAILBOX_CAPACITY: '4', MAX_BATCH_COMMANDS: '2' });
    const c = await WalletClient.connect(small.config.subjectPrefix);
    try {
      const org = 'org-full';
      await c.request(org, 'topup', { idempotencyKey: 'seed', amount: '100', currency: 'USD', provider: 'stripe', reference: 'pi_f' });
      const replies = await Promise.all(Array.from({ length: 300 }, (_, i) => c.request(org, 'debit', { idempotencyKey: `d${i}`, amount: '0.01', service: 'vm', workspaceId: 'ws' })));
      const refused = replies.filter((r) => !r.ok);
      expect(refused.length).toBeGreaterThan(0);
      expect(new Set(refused.map((r) => r.error.code))).toEqual(new Set(['MAILBOX_FULL']));
      const accepted = replies.length - refused.length;
      const totals = await ledgerTotals(org);
      expect(totals.entries).toBe(accepted + 1);
      expect(new Decimal(totals.wallet!).equals(new Decimal(100).minus(new Decimal('0.01').times(accepted)))).toBe(true);
    } finally {
      await small.dispose(c.nc);
      await c.close();
    }
  });

  it('fences a second writer: an engine whose wallet state is stale cannot commit over a newer version', async () => {
    const org = 'org-fenced';
    // Two engines on the same database, each answering its own subjects: both believe they own the org.
    const other = await startEngine({}, isolatedNames());
    const c2 = await WalletClient.connect(other.config.subjectPrefix);
    try {
      await clients[0].request(org, 'topup', { idempotencyKey: 'seed', amount: '10', currency: 'USD', provider: 'stripe', reference: 'pi_x' });
      expect((await c2.request(org, 'balance')).balance.exact.total).toBe('10');
      await clients[0].request(org, 'debit', { idempotencyKey: 'a1', amount: '1', service: 'vm', workspaceId: 'ws' });
      // The second engine's actor still holds version 1; its commit is refused, it reloads and decides again.
      const b1 = await c2.request(org, 'debit', { idempotencyKey: 'b1', amount: '2', service: 'vm', workspaceId: 'ws' });
      expect(b1.entry).toMatchObject({ seq: 3, totalAfter: '7' });
      const a2 = await clients[0].request(org, 'debit', { idempotencyKey: 'b1', amount: '2', service: 'vm', workspaceId: 'ws' });
      expect(a2.entry.id).toBe(b1.entry.id);
      const totals = await ledgerTotals(org);
      expect(totals.entries).toBe(3);
      expect(new Decimal(totals.wallet!).equals(7)).toBe(true);

      // The same check at the repository: a change made from a stale version is refused outright.
      const repo = engine.app.get(WalletRepository);
      const epoch = engine.app.get(Ownership).fence(org)!;
      const stale = await repo.load(org);
      const fresh = await repo.load(org);
      await expect(repo.commit([{ orgId: org, expectedVersion: fresh.version, epoch, state: fresh.state, entries: [], grants: [], meters: [], events: [] }])).resolves.toHaveLength(1);
      const [result] = await repo.commit([{ orgId: org, expectedVersion: stale.version, epoch, state: stale.state, entries: [], grants: [], meters: [], events: [] }]);
      expect(result).toBeInstanceOf(VersionConflictError);
    } finally {
      await other.dispose(c2.nc);
      await c2.close();
    }
  });

  it('keeps the ledger append-only: updates and deletes are refused by the database', async () => {
    await expect(sql("update ledger_entries set amount = 0 where org_id = 'org-hot'")).rejects.toThrow(/append-only/);
    await expect(sql("delete from ledger_entries where org_id = 'org-hot'")).rejects.toThrow(/append-only/);
  });
});
