import { AddressInfo } from 'net';
import jwt from 'jsonwebtoken';
import { Socket } from 'socket.io-client';
import { NATS_URL, startEngine, TEST_HEALTH_DETAILS_TOKEN, TestEngine, WalletClient } from './support/engine';
import { connectSocket, startGateway, TEST_JWT_SECRET, TestGateway } from './support/gateway';
import { eventually } from './support/lifecycle';
import { connectAs } from './support/nats-roles';
import { TcpProxy } from './support/servers';
import { GatewayStats } from '../apps/gateway/src/live/balance.gateway';
import { GATEWAY_NATS } from '../apps/gateway/src/tokens';
import { randomUUID } from 'crypto';
import { NatsConnection } from 'nats';

/** The socket.io gateway and the HTTP API, in front of a real engine on real NATS and Postgres. */
describe('gateway: live balances and HTTP API', () => {
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    engine = await startEngine();
    gateway = await startGateway(engine.config.subjectPrefix);
    client = await WalletClient.connect(engine.config.subjectPrefix);
    await client.request('gw-a', 'topup', { idempotencyKey: 't', amount: '100.00', currency: 'USD', provider: 'stripe', reference: 'pi_gw' });
    await client.request('gw-b', 'topup', { idempotencyKey: 't', amount: '5000', currency: 'VND', provider: 'vnpay', reference: 'vnp_gw' });
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await gateway.stop();
    await engine.dispose(client.nc);
    await client.close();
  });

  async function open(token: unknown) {
    const socket = await connectSocket(gateway.url, token);
    sockets.push(socket);
    return socket;
  }

  /** Listens from the moment of connection: the snapshot is sent right after it. */

  function collect(socket: Socket): any[] {
    return (socket as Socket & { early: any[] }).early;
  }

  describe('socket authentication', () => {
    it('refuses a socket without a token', async () => {
      await expect(connectSocket(gateway.url, undefined)).rejects.toThrow(/token is required/);
    });

    it('refuses a forged token', async () => {
      const forged = jwt.sign({ org: 'gw-a' }, 'another-secret-0123456789', { algorithm: 'HS256', expiresIn: 60 });
      await expect(connectSocket(gateway.url, forged)).rejects.toThrow(/invalid signature/);
    });

    it('refuses an expired token', async () => {
      const expired = jwt.sign({ org: 'gw-a', exp: Math.floor(Date.now() / 1000) - 10 }, TEST_JWT_SECRET, { algorithm: 'HS256' });
      await expect(connectSocket(gateway.url, expired)).rejects.toThrow(/expired/);
    });

    it('refuses a token that never expires or names no organization, and the none algorithm', async () => {
      const claims = { issuer: gateway.tokens.issuer, audience: gateway.tokens.audience };
      await expect(connectSocket(gateway.url, jwt.sign({ org: 'gw-a' }, TEST_JWT_SECRET, { algorithm: 'HS256', ...claims }))).rejects.toThrow(/no expiry/);
      await expect(connectSocket(gateway.url, jwt.sign({ sub: 'x' }, TEST_JWT_SECRET, { algorithm: 'HS256', expiresIn: 60, ...claims }))).rejects.toThrow(/organization/);
      const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ org: 'gw-a', exp: 9999999999 })).toString('base64url')}.`;
      await expect(connectSocket(gateway.url, none)).rejects.toThrow(/invalid/);
    });

    it("refuses a request for another organization's updates", async () => {
      const socket = await open(gateway.token('gw-a'));
      const answer = await socket.emitWithAck('subscribe', { orgId: 'gw-b' });
      expect(answer).toEqual({ ok: false, error: { code: 'FORBIDDEN', message: expect.any(String) } });
    });
  });

  it('sends a snapshot at once, then each change of its own organization only', async () => {
    const seenA = collect(await open(gateway.token('gw-a')));
    const seenB = collect(await open(gateway.token('gw-b')));
    await eventually(async () => seenA.length + seenB.length, (n) => n >= 2);
    expect(seenA[0]).toMatchObject({ orgId: 'gw-a', total: '100.00', currency: 'USD' });
    expect(seenB[0]).toMatchObject({ orgId: 'gw-b', total: '5000', currency: 'VND' });
    const d = await client.request('gw-a', 'debit', { idempotencyKey: 'd1', amount: '1.25', service: 'vm', workspaceId: 'ws' });
    const pushed = await eventually(async () => seenA.find((s) => s.seq === d.entry.seq), (s) => s !== undefined);
    expect(pushed).toMatchObject({ orgId: 'gw-a', total: '98.75' });
    await new Promise((r) => setTimeout(r, 300));
    expect(seenB.every((s) => s.orgId === 'gw-b')).toBe(true);
    expect(seenB).toHaveLength(1);
  });

  it('coalesces a burst: fewer pushes than changes, each with its seq, the latest state last', async () => {
    const socket = await open(gateway.token('gw-a'));
    const seen = collect(socket);
    await eventually(async () => seen.length, (n) => n >= 1);
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => client.request('gw-a', 'debit', { idempotencyKey: `burst-${i}`, amount: '0.01', service: 'vm', workspaceId: 'ws' })));
    const lastSeq = Math.max(...replies.map((r) => r.entry.seq));
    await eventually(async () => seen.at(-1)?.seq, (seq) => seq === lastSeq);
    await new Promise((r) => setTimeout(r, 300));
    const pushes = seen.slice(1);
    expect(pushes.length).toBeLessThan(60);
    expect(pushes.map((p) => p.seq)).toEqual([...pushes.map((p) => p.seq)].sort((x, y) => x - y));
    expect(seen.at(-1)).toMatchObject({ seq: lastSeq, exact: { total: (await client.request('gw-a', 'balance')).balance.exact.total } });
  });

  it('gives a reconnecting client the latest state', async () => {
    const first = await open(gateway.token('gw-a'));
    first.close();
    await client.request('gw-a', 'debit', { idempotencyKey: 'while-away', amount: '2', service: 'vm', workspaceId: 'ws' });
    const again = await open(gateway.token('gw-a'));
    const seen = collect(again);
    const latest = (await client.request('gw-a', 'balance')).balance;
    await eventually(async () => seen[0]?.seq, (seq) => seq === latest.seq);
  });

  it('reads a balance again when an announcement was missed: a gap in seq, or NATS gone and back', async () => {
    // A gateway of its own whose NATS connection goes through a proxy the test controls.
    const proxy = await TcpProxy.start(NATS_URL);
    const behind = await startGateway(engine.config.subjectPrefix, { NATS_URL: proxy.url });
    const stats = behind.app.get(GatewayStats);
    const engineRole = await connectAs('billing');
    try {
      const socket = await connectSocket(behind.url, behind.token('gw-a'));
      const seen = collect(socket);
      const d1 = await client.request('gw-a', 'debit', { idempotencyKey: 'gap-1', amount: '0.5', service: 'vm', workspaceId: 'ws' });
      await eventually(async () => seen.at(-1)?.seq, (seq) => seq === d1.entry.seq);

      // Announced as following a seq this gateway never saw: it asks the engine again (nothing
      // changed meanwhile, so nothing new is pushed; an older state than the one pushed never is).
      const real = (await client.request('gw-a', 'balance')).balance;
      const rereads = stats.rereads;
      engineRole.publish(`${engine.config.subjectPrefix}.events.gw-a.balance`, JSON.stringify({ ...real, seq: real.seq - 1, total: '0.00', eventId: randomUUID(), type: 'balance', previousSeq: real.seq + 1 }));
      await eventually(async () => stats.rereads, (n) => n === rereads + 1);
      await new Promise((r) => setTimeout(r, 300));
      expect(seen.at(-1)).toMatchObject({ seq: real.seq, exact: real.exact });

      // Cut off from NATS while the balance changes: the announcement is lost to it; once back, it reads every watched balance.
      const statuses: string[] = [];
      void (async () => {
        for await (const s of behind.app.get<NatsConnection>(GATEWAY_NATS).status()) statuses.push(s.type);
      })();
      proxy.cut('refuse');
      await eventually(async () => statuses, (s) => s.includes('disconnect'));
      const d2 = await client.request('gw-a', 'debit', { idempotencyKey: 'gap-2', amount: '0.75', service: 'vm', workspaceId: 'ws' });
      proxy.restore();
      const pushed = await eventually(async () => seen.find((s) => s.seq === d2.entry.seq), (s) => s !== undefined, 15_000);
      expect(pushed).toMatchObject({ exact: { total: d2.entry.totalAfter } });
      expect(stats.rereads).toBeGreaterThan(rereads + 1);
      socket.close();
    } finally {
      await engineRole.close();
      await behind.stop();
      await proxy.close();
    }
  });

  describe('HTTP API', () => {
    const http = (path: string, init: RequestInit & { token?: string } = {}) =>
      fetch(`${gateway.url}${path}`, { ...init, headers: { 'Content-Type': 'application/json', ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}) } });

    it('needs a token, and answers for the organization in it', async () => {
      expect((await http('/api/v1/wallet')).status).toBe(401);
      const res = await http('/api/v1/wallet', { token: gateway.token('gw-b') });
      expect(res.status).toBe(200);
      expect(((await res.json()) as any).balance).toMatchObject({ orgId: 'gw-b', currency: 'VND' });
    });

    it('grants credit only with an operator token, and refuses bad input with 400 and the code, changing nothing', async () => {
      const body = JSON.stringify({ idempotencyKey: 'g1', kind: 'voucher', amount: '10', currency: 'USD', expiresAt: new Date(Date.now() + 86400_000).toISOString() });
      // The organization API has no grant route; the operator route refuses an organization token.
      expect((await http('/api/v1/wallet/grants', { method: 'POST', body, token: gateway.token('gw-a') })).status).toBe(404);
      expect((await http('/api/v1/operator/organizations/gw-a/grants', { method: 'POST', body, token: gateway.token('gw-a') })).status).toBe(403);
      const before = (await client.request('gw-a', 'balance')).balance;
      const bad = await http('/api/v1/operator/organizations/gw-a/grants', { method: 'POST', body: JSON.stringify({ idempotencyKey: 'g2', kind: 'voucher', amount: 10, currency: 'USD', expiresAt: new Date(Date.now() + 86400_000).toISOString() }), token: gateway.operatorToken('gw-operator') });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as any).error.code).toBe('INVALID_AMOUNT');
      expect((await client.request('gw-a', 'balance')).balance.seq).toBe(before.seq);
      const ok = await http('/api/v1/operator/organizations/gw-a/grants', { method: 'POST', body, token: gateway.operatorToken('gw-operator') });
      expect(ok.status).toBe(201);
      expect(((await ok.json()) as any).entry).toMatchObject({ type: 'grant', amount: '10' });
    });

    it('creates voucher codes with an operator token and redeems them for the token\'s organization', async () => {
      const body = JSON.stringify({ code: 'HTTP-CODE', amount: '3', currency: 'USD', expiresAfterDays: 5, maxRedemptions: 2 });
      expect((await http('/api/v1/admin/vouchers', { method: 'POST', body, token: gateway.token('gw-a') })).status).toBe(404);
      expect((await http('/api/v1/operator/vouchers', { method: 'POST', body, token: gateway.token('gw-a') })).status).toBe(403);
      expect((await http('/api/v1/operator/vouchers', { method: 'POST', body, token: gateway.operatorToken('gw-operator') })).status).toBe(201);
      const redeemed = await http('/api/v1/wallet/redeem', { method: 'POST', body: JSON.stringify({ idempotencyKey: 'h1', code: 'HTTP-CODE' }), token: gateway.token('gw-a') });
      expect(redeemed.status).toBe(201);
      const again = await http('/api/v1/wallet/redeem', { method: 'POST', body: JSON.stringify({ idempotencyKey: 'h2', code: 'HTTP-CODE' }), token: gateway.token('gw-a') });
      expect(again.status).toBe(409);
      expect((await http('/api/v1/wallet/redeem', { method: 'POST', body: JSON.stringify({ idempotencyKey: 'h3', code: 'NO-SUCH' }), token: gateway.token('gw-a') })).status).toBe(404);
    });

    it('serves the ledger, usage, thresholds, resources and authorize', async () => {
      const token = gateway.token('gw-a');
      const ledger: any = await (await http('/api/v1/wallet/ledger?limit=2', { token })).json();
      expect(ledger.entries.map((e: any) => e.seq)).toEqual([1, 2]);
      const from = new Date(Date.now() - 86400_000).toISOString();
      expect((await http(`/api/v1/wallet/usage?from=${from}&to=${new Date().toISOString()}`, { token })).status).toBe(200);
      expect((await http('/api/v1/wallet/usage', { token })).status).toBe(400);
      const alerts = await http('/api/v1/wallet/alerts', { method: 'PUT', body: JSON.stringify({ lowBalance: ['20'] }), token });
      expect(await alerts.json()).toEqual({ ok: true, lowBalance: ['20'] });
      expect(await (await http('/api/v1/resources', { token })).json()).toEqual({ ok: true, resources: [] });
      const auth = await (await http('/api/v1/wallet/authorize?service=vm&sku=h100-1x&workspaceId=ws', { token })).json();
      expect(auth).toMatchObject({ ok: true, authorized: true });
    });

    it('shows plan + voucher + top-up adding up to the total shown, no -0.00, and usage rounded by the engine', async () => {
      const org = 'gw-display';
      const token = gateway.token(org);
      const expiresAt = new Date(Date.now() + 86400_000).toISOString();
      await client.request(org, 'topup', { idempotencyKey: 't', amount: '10.00', currency: 'USD', provider: 'stripe', reference: 'pi_display' });
      await client.request(org, 'grant', { idempotencyKey: 'p', kind: 'plan', amount: '3.335', currency: 'USD' });
      await client.request(org, 'grant', { idempotencyKey: 'v', kind: 'voucher', amount: '1.335', currency: 'USD', expiresAt });
      const wallet = async () => ((await (await http('/api/v1/wallet', { token })).json()) as any).balance;
      // Rounded one by one they would read 3.34 + 1.34 + 10.00 = 14.68 under a total of 14.67.
      expect(await wallet()).toMatchObject({ total: '14.67', plan: '3.33', voucher: '1.34', topup: '10.00', exact: { total: '14.67', plan: '3.335', voucher: '1.335', topup: '10' } });
      await client.request(org, 'debit', { idempotencyKey: 'd1', amount: '14.674', service: 'vm', workspaceId: 'ws-d', resourceId: 'r-1' });
      // A debt of less than half a cent reads 0.00, unsigned.
      expect(await wallet()).toMatchObject({ total: '0.00', plan: '0.00', voucher: '0.00', topup: '0.00', exact: { total: '-0.004', topup: '-0.004' } });
      await client.request(org, 'debit', { idempotencyKey: 'd2', amount: '0.003', service: 'vm', workspaceId: 'ws-d', resourceId: 'r-2' });
      expect(await wallet()).toMatchObject({ total: '-0.01', plan: '0.00', voucher: '0.00', topup: '-0.01', exact: { total: '-0.007', topup: '-0.007' } });
      const from = new Date(Date.now() - 86400_000).toISOString();
      const usage: any = await (await http(`/api/v1/wallet/usage?from=${from}&to=${new Date(Date.now() + 1000).toISOString()}`, { token })).json();
      expect(usage.currency).toBe('USD');
      expect(usage.usage.map((r: any) => [r.resourceId, r.amount, r.display])).toEqual(expect.arrayContaining([['r-1', '14.674', '14.67'], ['r-2', '0.003', '0.00']]));
      // Summed exactly, then rounded once: 14.677 reads 14.68, not 14.67 + 0.00.
      expect(usage.workspaces).toEqual([{ workspaceId: 'ws-d', amount: '14.677', display: '14.68', gpuHours: '0', gpuHoursDisplay: '0.00' }]);
    });

    it('documents itself with OpenAPI, and reports health and metrics', async () => {
      const docs: any = await (await fetch(`${gateway.url}/docs-json`)).json();
      expect(Object.keys(docs.paths)).toEqual(expect.arrayContaining(['/api/v1/wallet', '/api/v1/wallet/ledger', '/api/v1/wallet/usage', '/api/v1/resources', '/api/v1/operator/organizations/{orgId}/grants', '/api/v1/operator/audit']));
      const health = await fetch(`${gateway.url}/health/details`, { headers: { authorization: `Bearer ${TEST_HEALTH_DETAILS_TOKEN}` } });
      expect(health.status).toBe(200);
      expect(((await health.json()) as any).info).toMatchObject({ nats: { status: 'up' }, postgres: { status: 'up' } });
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).toMatch(/gateway_sockets\{service="gateway"\} \d+/);
    });

    it('has the billing engine report its own health and metrics', async () => {
      const billing = `http://127.0.0.1:${(engine.app.getHttpServer().address() as AddressInfo).port}`;
      const health = await fetch(`${billing}/health/details`, { headers: { authorization: `Bearer ${TEST_HEALTH_DETAILS_TOKEN}` } });
      expect(health.status).toBe(200);
      expect(((await health.json()) as any).info).toMatchObject({ nats: { status: 'up' }, postgres: { status: 'up' } });
      const metrics = await (await fetch(`${billing}/metrics`)).text();
      for (const name of ['billing_commands_total', 'billing_commit_batch_wallets_bucket', 'billing_commit_seconds_bucket', 'billing_mailbox_depth', 'billing_active_wallet_actors']) {
        expect(metrics).toContain(name);
      }
      expect(metrics).toMatch(/billing_commands_total\{command="debit",outcome="ok",service="billing"\} \d+/);
      // The gauges read the running engine: one process serves every partition, and wallets are in memory.
      expect(Number(/^billing_partitions_served\{service="billing"\} (\d+)$/m.exec(metrics)?.[1])).toBe(engine.config.partitions);
      expect(Number(/^billing_active_wallet_actors\{service="billing"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    });
  });
});
