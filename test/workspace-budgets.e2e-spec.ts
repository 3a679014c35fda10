import { randomBytes } from 'crypto';
import { isolatedNames, readEvents, sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { startGateway, TestGateway } from './support/gateway';

/**
 * Workspace budgets (issue 15, item 3) against the real engine, NATS, PostgreSQL and the gateway:
 * a monthly cap per workspace inside one organization wallet, `workspace_budget_reached` at 80%
 * and 100% of it (once each, in the events stream), `authorize` refusing a launch in a workspace
 * whose cap is used up while another workspace still launches, the same standing after a
 * restart, and the spend of each workspace this month against its cap.
 */
describe('workspace budgets', () => {
  const names = isolatedNames();
  const tag = randomBytes(3).toString('hex');
  let engine: TestEngine;
  let client: WalletClient;
  let gateway: TestGateway;

  beforeAll(async () => {
    engine = await startEngine({}, names);
    client = await WalletClient.connect(names.subjectPrefix);
    gateway = await startGateway(names.subjectPrefix);
  });

  afterAll(async () => {
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
  });

  const topup = (org: string, amount: string) =>
    client.request(org, 'topup', { idempotencyKey: `t-${randomBytes(4).toString('hex')}`, amount, currency: 'USD', provider: 'stripe', reference: 'pi_b' });
  let debits = 0;
  const debit = (org: string, workspaceId: string, amount: string) =>
    client.request(org, 'debit', { idempotencyKey: `d-${++debits}-${tag}`, amount, service: 'gpu-container', workspaceId });
  const authorize = (org: string, workspaceId: string) => client.request(org, 'authorize', { service: 'gpu-container', sku: 'h100-1x', workspaceId });
  const http = (path: string, token: string, init: RequestInit = {}) =>
    fetch(`${gateway.url}${path}`, { ...init, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` } });
  const stored = (org: string) => sql('select workspace_id, monthly_cap::text as cap, currency from workspace_budgets where org_id = $1 order by workspace_id', [org]);
  const reached = (org: string) => `${names.subjectPrefix}.events.${org}.workspace_budget_reached`;
  const countReached = async (org: string) => {
    const info = await (await client.nc.jetstreamManager()).streams.info(names.eventsStream, { subjects_filter: reached(org) });
    return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  };
  const month = () => new Date().toISOString().slice(0, 7);

  it('refuses bad caps with a clear error and changes nothing', async () => {
    const org = `bud-bad-${tag}`;
    // No billing currency yet: a cap has no currency to be in.
    expect(await client.request(org, 'budgets.set', { workspaceId: 'ws-a', monthlyCap: '100.00' })).toMatchObject({ ok: false, error: { code: 'NO_BILLING_CURRENCY' } });
    await topup(org, '50.00');
    const refusals: [object, string][] = [
      [{ workspaceId: 'ws-a', monthlyCap: '-5' }, 'INVALID_AMOUNT'],
      [{ workspaceId: 'ws-a', monthlyCap: 100 }, 'INVALID_AMOUNT'],
      [{ workspaceId: 'ws-a', monthlyCap: '1e3' }, 'INVALID_AMOUNT'],
      [{ workspaceId: 'ws-a', monthlyCap: '1000000000000.01' }, 'AMOUNT_TOO_LARGE'],
      [{ workspaceId: 'ws-a', monthlyCap: '99999999999999999999999' }, 'AMOUNT_TOO_LARGE'],
      [{ workspaceId: 'ws-a', monthlyCap: '10.001' }, 'TOO_MANY_DECIMALS'],
      [{ workspaceId: 'ws-a', monthlyCap: '10', currency: 'JPY' }, 'CURRENCY_MISMATCH'],
      [{ workspaceId: 'ws-a', monthlyCap: '10', currency: 'EUR' }, 'UNKNOWN_CURRENCY'],
      [{ workspaceId: 'ws a', monthlyCap: '10' }, 'INVALID_FIELD'],
      [{ workspaceId: '', monthlyCap: '10' }, 'INVALID_FIELD'],
      [{ workspaceId: 'x'.repeat(129), monthlyCap: '10' }, 'INVALID_FIELD'],
      [{ monthlyCap: '10' }, 'MISSING_FIELD'],
      [{ workspaceId: 'ws-a' }, 'MISSING_FIELD'],
    ];
    for (const [body, code] of refusals) {
      const reply = await client.request(org, 'budgets.set', body);
      expect({ body, reply }).toMatchObject({ body, reply: { ok: false, error: { code } } });
      expect(reply.error.message.length).toBeGreaterThan(10);
    }
    // Through the gateway as well: refused as a client error.
    const res = await http('/api/v1/budgets', gateway.token(org), { method: 'PUT', body: JSON.stringify({ workspaceId: 'ws-a', monthlyCap: '-1' }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ ok: false, error: { code: 'INVALID_AMOUNT' } });

    expect(await stored(org)).toEqual([]);
    expect(await client.request(org, 'budgets.get')).toMatchObject({ ok: true, currency: 'USD', budgets: [] });
  });

  it('announces 80% and 100% once each, refuses launches in the capped workspace past its cap only, and keeps that standing across a restart', async () => {
    const org = `bud-run-${tag}`;
    await topup(org, '1000.00');
    const token = gateway.token(org);
    const set = await http('/api/v1/budgets', token, { method: 'PUT', body: JSON.stringify({ workspaceId: 'ws-a', monthlyCap: '100.00', currency: 'USD' }) });
    expect(set.status).toBe(200);
    expect(await stored(org)).toEqual([{ workspace_id: 'ws-a', cap: '100.00000000', currency: 'USD' }]);

    expect((await debit(org, 'ws-a', '79.99')).ok).toBe(true);
    expect((await debit(org, 'ws-b', '300')).ok).toBe(true);
    expect(await authorize(org, 'ws-a')).toMatchObject({ ok: true, authorized: true, budget: { workspaceId: 'ws-a', cap: '100', spent: '79.99', reached: null } });
    expect((await debit(org, 'ws-a', '0.01')).ok).toBe(true); // 80.00: the 80% mark
    expect((await debit(org, 'ws-a', '15')).ok).toBe(true); // 95
    expect(await authorize(org, 'ws-a')).toMatchObject({ authorized: true, budget: { spent: '95', remaining: '5', reached: '80' } });
    expect((await debit(org, 'ws-a', '7.5')).ok).toBe(true); // 102.5: past the cap (debits are not refused: the cap stops launches)
    expect((await debit(org, 'ws-a', '1')).ok).toBe(true); // 103.5: no mark left to cross

    const events = await readEvents(client.nc, names.eventsStream, reached(org), 2, 15_000);
    expect(events).toEqual([
      expect.objectContaining({ type: 'workspace_budget_reached', orgId: org, workspaceId: 'ws-a', threshold: '80', spent: '80', cap: '100', currency: 'USD', month: month() }),
      expect.objectContaining({ type: 'workspace_budget_reached', orgId: org, workspaceId: 'ws-a', threshold: '100', spent: '102.5', cap: '100', currency: 'USD', month: month() }),
    ]);
    expect(await countReached(org)).toBe(2);

    const refused = await authorize(org, 'ws-a');
    expect(refused).toMatchObject({ ok: true, authorized: false, budget: { spent: '103.5', cap: '100', remaining: '0', reached: '100' } });
    expect(refused.reason).toMatch(/workspace ws-a has spent 103.5 USD of its monthly cap of 100 USD/);
    // The organization's balance would cover it: another workspace, with no cap, still launches.
    expect(await authorize(org, 'ws-b')).toMatchObject({ ok: true, authorized: true });
    expect((await authorize(org, 'ws-b')).budget).toBeUndefined();

    // Usage against cap, per workspace: over NATS and through the gateway.
    const view = await client.request(org, 'budgets.get');
    expect(view).toEqual({
      ok: true,
      currency: 'USD',
      month: month(),
      budgets: [
        { workspaceId: 'ws-a', cap: '100', capDisplay: '100.00', spentThisMonth: '103.5', spentDisplay: '103.50', remaining: '0', reached: '100', exhausted: true },
        { workspaceId: 'ws-b', cap: null, capDisplay: null, spentThisMonth: '300', spentDisplay: '300.00', remaining: null, reached: null, exhausted: false },
      ],
    });
    const got = await http('/api/v1/budgets', token);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual(view);

    // A new process on the same names reads the standing back from the ledger and the caps.
    await engine.stop();
    engine = await startEngine({}, names);
    expect(await authorize(org, 'ws-a')).toMatchObject({ authorized: false, budget: { spent: '103.5', cap: '100' } });
    expect(await authorize(org, 'ws-b')).toMatchObject({ authorized: true });
    expect(await client.request(org, 'budgets.get')).toEqual(view);
    // No mark is crossed again after the restart.
    expect((await debit(org, 'ws-a', '2')).ok).toBe(true);
    expect(await countReached(org)).toBe(2);

    // A higher cap lets launches through again; removing it too.
    expect(await client.request(org, 'budgets.set', { workspaceId: 'ws-a', monthlyCap: '200' })).toMatchObject({ ok: true, budgets: [{ workspaceId: 'ws-a', cap: '200', spentThisMonth: '105.5' }, { workspaceId: 'ws-b' }] });
    expect(await authorize(org, 'ws-a')).toMatchObject({ authorized: true, budget: { cap: '200', reached: null } });
    expect(await client.request(org, 'budgets.set', { workspaceId: 'ws-a', monthlyCap: null })).toMatchObject({ ok: true });
    expect(await stored(org)).toEqual([]);
    expect((await authorize(org, 'ws-a')).budget).toBeUndefined();
  });

  it('a cap of zero stops every launch in the workspace from the start', async () => {
    const org = `bud-zero-${tag}`;
    await topup(org, '100.00');
    expect((await client.request(org, 'budgets.set', { workspaceId: 'ws-frozen', monthlyCap: '0' })).ok).toBe(true);
    expect(await authorize(org, 'ws-frozen')).toMatchObject({ authorized: false, budget: { cap: '0', spent: '0' } });
    expect(await authorize(org, 'ws-other')).toMatchObject({ authorized: true });
  });
});
