import { randomBytes } from 'crypto';
import jwt from 'jsonwebtoken';
import { headers, NatsConnection } from 'nats';
import { BillingMetrics } from '../apps/billing/src/billing.metrics';
import { Ownership } from '../apps/billing/src/ownership/ownership.service';
import { voucherCodeFingerprint } from '../libs/contracts/src/operator-actions';
import { isolatedNames, ledgerTotals, sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { startGateway, TEST_JWT_SECRET, TEST_OPERATOR_JWT_SECRET, TestGateway } from './support/gateway';
import { eventually } from './support/lifecycle';
import { connectAs } from './support/nats-roles';
import { operatorHeaders } from './support/operator';

/**
 * Operators are not organizations (issue 12, item 3), against the real gateway, engine, NATS with
 * the shipped permissions, and PostgreSQL: no organization token, whatever it claims, can do an
 * operator's work; an operator token can, and every operator action, refused ones included, is in
 * the append-only audit with who, what, when, the request id and the outcome.
 */
describe('operators and the audit', () => {
  const names = isolatedNames();
  const tag = randomBytes(3).toString('hex');
  const org = `op-${tag}-a`;
  const other = `op-${tag}-b`;
  const future = new Date(Date.now() + 30 * 86_400_000).toISOString();
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;

  const http = (path: string, init: { method?: string; body?: unknown; token?: string; requestId?: string } = {}) =>
    fetch(`${gateway.url}${path}`, {
      method: init.method ?? 'GET',
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      headers: { 'Content-Type': 'application/json', ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}), ...(init.requestId ? { 'X-Request-Id': init.requestId } : {}) },
    });

  /** The audit as the API shows it (newest first). */
  async function audit(token: string, query: Record<string, string> = {}): Promise<any> {
    const res = await http(`/api/v1/operator/audit?${new URLSearchParams(query)}`, { token });
    expect(res.status).toBe(200);
    return res.json();
  }

  /** Everything an operator might change, for "nothing changed" checks. */
  async function state() {
    const [vouchers] = await sql(`select count(*)::int as n from voucher_codes`);
    const [plans] = await sql(`select count(*)::int as n from plan_subscriptions where org_id = any($1)`, [[org, other]]);
    const [actions] = await sql(`select count(*)::int as n from operator_actions`);
    const [outcomes] = await sql(`select count(*)::int as n from operator_action_outcomes`);
    return { ledger: await ledgerTotals(org), vouchers: vouchers.n, plans: plans.n, actions: actions.n, outcomes: outcomes.n };
  }

  beforeAll(async () => {
    engine = await startEngine({}, names);
    gateway = await startGateway(names.subjectPrefix);
    client = await WalletClient.connect(names.subjectPrefix);
    expect((await client.request(org, 'topup', { idempotencyKey: 'seed', amount: '100.00', currency: 'USD', provider: 'bank', reference: 'seed-a' })).ok).toBe(true);
  });

  afterAll(async () => {
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
  });

  describe('an organization token', () => {
    const routes = (subscriptionId: string) => [
      { path: `/api/v1/operator/organizations/${org}/grants`, body: { idempotencyKey: 'evil-g', kind: 'voucher', amount: '1000', currency: 'USD', expiresAt: future } },
      { path: `/api/v1/operator/organizations/${org}/topups`, body: { idempotencyKey: 'evil-t', amount: '1000.00', currency: 'USD', provider: 'bank', reference: 'evil' } },
      { path: `/api/v1/operator/organizations/${org}/reversals`, body: { idempotencyKey: 'evil-r', amount: '10.00', currency: 'USD', reference: 'seed-a' } },
      { path: `/api/v1/operator/organizations/${org}/plans`, body: { plan: 'free-money', amount: '1000', currency: 'USD', periodDays: 30 } },
      { path: `/api/v1/operator/plans/${subscriptionId}/cancel`, body: {} },
      { path: '/api/v1/operator/vouchers', body: { code: `EVIL${tag}`, amount: '1000', currency: 'USD', expiresAfterDays: 30, maxRedemptions: 1000 } },
      { path: '/api/v1/operator/audit', method: 'GET' as const },
    ];

    it('cannot grant, top up, reverse, create codes, subscribe or cancel plans, or read the audit: 401/403, and nothing changes', async () => {
      const now = Math.floor(Date.now() / 1000);
      const org_ = { issuer: gateway.tokens.issuer, audience: gateway.tokens.audience };
      const op_ = { issuer: gateway.operatorTokens.issuer, audience: gateway.operatorTokens.audience };
      const forbidden: Record<string, string> = {
        'an organization token': gateway.token(org),
        'an organization token claiming role admin': jwt.sign({ org, role: 'admin', sub: 'admin' }, TEST_JWT_SECRET, { ...org_, expiresIn: 600 }),
        'an organization token also claiming the operator audience': jwt.sign({ org, sub: 'mallory' }, TEST_JWT_SECRET, { issuer: org_.issuer, audience: [org_.audience, op_.audience], expiresIn: 600 }),
      };
      const unauthenticated: Record<string, string | undefined> = {
        'no token': undefined,
        'the organization secret claiming the operator audience': jwt.sign({ sub: 'mallory' }, TEST_JWT_SECRET, { ...op_, expiresIn: 600 }),
        'the organization secret claiming the operator audience and an organization': jwt.sign({ sub: 'mallory', org, role: 'admin' }, TEST_JWT_SECRET, { ...op_, expiresIn: 600 }),
        'another secret': jwt.sign({ sub: 'mallory' }, 'another-secret-0123456789abcdef', { ...op_, expiresIn: 600 }),
        'the operator secret with the organization audience': jwt.sign({ sub: 'mallory' }, TEST_OPERATOR_JWT_SECRET, { ...org_, expiresIn: 600 }),
        'an operator token naming an organization': jwt.sign({ sub: 'mallory', org }, TEST_OPERATOR_JWT_SECRET, { ...op_, expiresIn: 600 }),
        'an operator token naming no operator': jwt.sign({}, TEST_OPERATOR_JWT_SECRET, { ...op_, expiresIn: 600 }),
        'an expired operator token': jwt.sign({ sub: 'mallory', iat: now - 120, exp: now - 60 }, TEST_OPERATOR_JWT_SECRET, op_),
        'an operator token living too long': jwt.sign({ sub: 'mallory' }, TEST_OPERATOR_JWT_SECRET, { ...op_, expiresIn: 7200 }),
        'alg none': `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'mallory', iat: now, exp: now + 600, iss: op_.issuer, aud: op_.audience })).toString('base64url')}.`,
      };
      const before = await state();
      const subscriptionId = '00000000-0000-4000-8000-000000000000';
      for (const route of routes(subscriptionId)) {
        for (const [label, token] of Object.entries(forbidden)) {
          const res = await http(route.path, { method: route.method ?? 'POST', body: route.body, token });
          expect([label, route.path, res.status]).toEqual([label, route.path, 403]);
          expect(((await res.json()) as any).error.code).toBe('FORBIDDEN');
        }
        for (const [label, token] of Object.entries(unauthenticated)) {
          const res = await http(route.path, { method: route.method ?? 'POST', body: route.body, token });
          expect([label, route.path, res.status]).toEqual([label, route.path, 401]);
          expect(((await res.json()) as any).error.code).toBe('UNAUTHENTICATED');
        }
      }
      // The organization API keeps no credit or code routes.
      for (const path of ['/api/v1/wallet/grants', '/api/v1/admin/vouchers']) {
        expect((await http(path, { method: 'POST', body: routes(subscriptionId)[0].body, token: forbidden['an organization token claiming role admin'] })).status).toBe(404);
      }
      // Refused before the engine: nothing moved, and nothing reached the audit (the refusals are logged and counted).
      expect(await state()).toEqual(before);
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).toMatch(/gateway_operator_refusals_total\{reason="forbidden"[^}]*\} [1-9]/);
      expect(metrics).toMatch(/gateway_operator_refusals_total\{reason="unauthenticated"[^}]*\} [1-9]/);
    });

    it('is never an operator token: the organization API refuses operator tokens', async () => {
      const res = await http('/api/v1/wallet', { token: gateway.operatorToken('alice') });
      expect(res.status).toBe(401);
    });
  });

  describe('an operator token', () => {
    it('grants, tops up, reverses, creates codes, subscribes and cancels plans, each audited under its operator with the request id and outcome', async () => {
      const alice = gateway.operatorToken(`alice-${tag}`);
      const code = `OPS${tag}`;
      const before = await ledgerTotals(org);

      const grant = await http(`/api/v1/operator/organizations/${org}/grants`, { method: 'POST', token: alice, requestId: `req-${tag}-grant`, body: { idempotencyKey: 'g-1', kind: 'voucher', amount: '20', currency: 'USD', service: 'ai-notebook', expiresAt: future, reference: 'TICKET-1' } });
      expect(grant.status).toBe(201);
      expect(grant.headers.get('x-request-id')).toBe(`req-${tag}-grant`);
      const entry = ((await grant.json()) as any).entry;
      expect(entry).toMatchObject({ type: 'grant', amount: '20' });

      const topup = await http(`/api/v1/operator/organizations/${org}/topups`, { method: 'POST', token: alice, requestId: `req-${tag}-topup`, body: { idempotencyKey: 'bank-1', amount: '50.00', currency: 'USD', provider: 'bank', reference: 'SWIFT-1' } });
      expect(topup.status).toBe(201);
      const reversal = await http(`/api/v1/operator/organizations/${org}/reversals`, { method: 'POST', token: alice, requestId: `req-${tag}-reverse`, body: { idempotencyKey: 'rev-1', amount: '50.00', currency: 'USD', reference: 'SWIFT-1', reason: 'recalled' } });
      expect(reversal.status).toBe(201);
      expect(((await reversal.json()) as any).entry).toMatchObject({ type: 'reversal' });

      const voucher = await http('/api/v1/operator/vouchers', { method: 'POST', token: alice, requestId: `req-${tag}-voucher`, body: { code, amount: '5', currency: 'USD', expiresAfterDays: 10, maxRedemptions: 3 } });
      expect(voucher.status).toBe(201);
      const plan = await http(`/api/v1/operator/organizations/${org}/plans`, { method: 'POST', token: alice, requestId: `req-${tag}-plan`, body: { plan: 'Pro', amount: '10', currency: 'USD', periodDays: 30 } });
      expect(plan.status).toBe(201);
      const subscription = ((await plan.json()) as any).subscription;
      expect(subscription).toMatchObject({ orgId: org });
      const cancel = await http(`/api/v1/operator/plans/${subscription.id}/cancel`, { method: 'POST', token: alice, requestId: `req-${tag}-cancel` });
      expect(cancel.status).toBe(201);

      // The money moved: the grant, the top-up and its reversal, and the plan's first period.
      const after = await eventually(() => ledgerTotals(org), (t) => t.entries >= before.entries + 4);
      expect(after.ledger).toBe(after.wallet);

      const { entries } = await audit(alice, { operator: `alice-${tag}` });
      const byRequest = Object.fromEntries(entries.map((e: any) => [e.requestId, e]));
      const common = { operator: `alice-${tag}`, via: 'http', outcome: 'ok', message: null };
      expect(byRequest[`req-${tag}-grant`]).toMatchObject({ ...common, command: 'wallet.grant', orgId: org, params: { idempotencyKey: 'g-1', kind: 'voucher', amount: '20', reference: 'TICKET-1' }, detail: { entryId: entry.id, seq: entry.seq } });
      expect(byRequest[`req-${tag}-topup`]).toMatchObject({ ...common, command: 'wallet.topup', orgId: org, params: { amount: '50.00', provider: 'bank' } });
      expect(byRequest[`req-${tag}-reverse`]).toMatchObject({ ...common, command: 'wallet.reverse', orgId: org, params: { reason: 'recalled' } });
      expect(byRequest[`req-${tag}-plan`]).toMatchObject({ ...common, command: 'admin.plans.subscribe', orgId: org, params: { plan: 'Pro', orgId: org }, detail: { subscriptionId: subscription.id } });
      expect(byRequest[`req-${tag}-cancel`]).toMatchObject({ ...common, command: 'admin.plans.cancel', params: { subscriptionId: subscription.id } });
      // A voucher code is a bearer secret: the audit keeps its fingerprint, never the code.
      expect(byRequest[`req-${tag}-voucher`]).toMatchObject({ ...common, command: 'admin.vouchers.create', orgId: null, params: { code: voucherCodeFingerprint(code), maxRedemptions: 3 }, detail: { code: voucherCodeFingerprint(code) } });
      expect(JSON.stringify(entries)).not.toContain(code);
      for (const e of entries) {
        expect(Date.parse(e.at)).toBeGreaterThan(Date.now() - 120_000);
        expect(Date.parse(e.finishedAt)).toBeGreaterThanOrEqual(Date.parse(e.at));
        expect(e.nodeId).toBe(engine.config.nodeId);
      }
    });

    it('records refused actions with their outcome, and makes up a request id when none is given', async () => {
      const bob = gateway.operatorToken(`bob-${tag}`);
      const before = await ledgerTotals(org);
      const wrongCurrency = await http(`/api/v1/operator/organizations/${org}/grants`, { method: 'POST', token: bob, requestId: `req-${tag}-jpy`, body: { idempotencyKey: 'g-jpy', kind: 'voucher', amount: '500', currency: 'JPY', expiresAt: future } });
      expect(wrongCurrency.status).toBe(409);
      const badAmount = await http(`/api/v1/operator/organizations/${org}/grants`, { method: 'POST', token: bob, body: { idempotencyKey: 'g-bad', kind: 'voucher', amount: 20, currency: 'USD', expiresAt: future } });
      expect(badAmount.status).toBe(400);
      const made = badAmount.headers.get('x-request-id')!;
      expect(made).toMatch(/^[0-9a-f-]{36}$/);
      const again = await http('/api/v1/operator/vouchers', { method: 'POST', token: bob, requestId: `req-${tag}-dup`, body: { code: `OPS${tag}`, amount: '5', currency: 'USD', expiresAfterDays: 10, maxRedemptions: 3 } });
      expect(again.status).toBe(409);
      const badPlan = await http(`/api/v1/operator/organizations/${other}/plans`, { method: 'POST', token: bob, requestId: `req-${tag}-badplan`, body: { plan: 'X', amount: '-1', currency: 'USD', periodDays: 30 } });
      expect(badPlan.status).toBe(400);
      expect(await ledgerTotals(org)).toEqual(before);

      const { entries } = await audit(bob, { operator: `bob-${tag}` });
      expect(entries.map((e: any) => [e.requestId, e.command, e.outcome])).toEqual([
        [`req-${tag}-badplan`, 'admin.plans.subscribe', 'INVALID_AMOUNT'],
        [`req-${tag}-dup`, 'admin.vouchers.create', 'VOUCHER_CODE_EXISTS'],
        [made, 'wallet.grant', 'INVALID_AMOUNT'],
        [`req-${tag}-jpy`, 'wallet.grant', 'CURRENCY_LOCKED'],
      ]);
      expect(entries[3].message).toMatch(/USD/);
      expect(entries[0].orgId).toBe(other);

      // Filters: outcome, command, organization, time, and pages newest first.
      expect((await audit(bob, { operator: `bob-${tag}`, outcome: 'INVALID_AMOUNT' })).entries).toHaveLength(2);
      expect((await audit(bob, { operator: `bob-${tag}`, command: 'admin.vouchers.create' })).entries.map((e: any) => e.requestId)).toEqual([`req-${tag}-dup`]);
      expect((await audit(bob, { orgId: other })).entries.map((e: any) => e.requestId)).toEqual([`req-${tag}-badplan`]);
      expect((await audit(bob, { operator: `bob-${tag}`, from: new Date(Date.now() + 60_000).toISOString() })).entries).toEqual([]);
      expect((await audit(bob, { operator: `bob-${tag}`, to: new Date(Date.now() + 60_000).toISOString(), from: new Date(Date.now() - 600_000).toISOString() })).entries).toHaveLength(4);
      const first = await audit(bob, { operator: `bob-${tag}`, limit: '3' });
      expect(first.entries).toHaveLength(3);
      const second = await audit(bob, { operator: `bob-${tag}`, limit: '3', cursor: first.nextCursor });
      expect(second.entries.map((e: any) => e.requestId)).toEqual([`req-${tag}-jpy`]);
      expect(second.nextCursor).toBeNull();
      const junk: Record<string, string>[] = [{ limit: '0' }, { limit: '501' }, { from: 'yesterday' }, { cursor: '-1' }, { operator: 'two words' }, { outcome: 'ok; drop table' }];
      for (const bad of junk) {
        const res = await http(`/api/v1/operator/audit?${new URLSearchParams(bad)}`, { token: bob });
        expect([bad, res.status]).toEqual([bad, 400]);
      }
    });
  });

  describe('on the bus', () => {
    const subject = (command: string) => `${names.subjectPrefix}.wallet.${org}.${command}`;
    const admin = (command: string) => `${names.subjectPrefix}.admin.${command}`;
    const ask = async (nc: NatsConnection, s: string, body: object, h = headers()) => JSON.parse(Buffer.from((await nc.request(s, Buffer.from(JSON.stringify(body)), { timeout: 10_000, headers: h })).data).toString());

    it('refuses an operator command that names no operator, or names it wrongly, and changes nothing', async () => {
      const before = await state();
      const commands: [string, object][] = [
        [subject('grant'), { idempotencyKey: 'nats-g0', kind: 'voucher', amount: '5', currency: 'USD', expiresAt: future }],
        [subject('topup'), { idempotencyKey: 'nats-t0', amount: '5.00', currency: 'USD', provider: 'bank', reference: 'x' }],
        [subject('reverse'), { idempotencyKey: 'nats-r0', amount: '5.00', currency: 'USD', reference: 'x' }],
        [admin('vouchers.create'), { code: `NOOP${tag}`, amount: '5', currency: 'USD', expiresAfterDays: 1, maxRedemptions: 1 }],
        [admin('plans.subscribe'), { orgId: org, plan: 'x', amount: '5', currency: 'USD', periodDays: 30 }],
        [admin('plans.cancel'), { subscriptionId: '00000000-0000-4000-8000-000000000000' }],
      ];
      for (const [s, body] of commands) {
        expect([s, (await ask(client.nc, s, body)).error.code]).toEqual([s, 'OPERATOR_REQUIRED']);
        const twice = headers();
        twice.append('Billing-Operator', 'alice');
        twice.append('Billing-Operator', 'mallory');
        for (const h of [operatorHeaders('has spaces'), operatorHeaders('-dash-first'), twice]) expect([s, (await ask(client.nc, s, body, h)).error.code]).toEqual([s, 'INVALID_FIELD']);
      }
      expect(await state()).toEqual(before);
      // Debits by hand, balances and other reads need no operator name.
      expect((await ask(client.nc, subject('balance'), {})).ok).toBe(true);
    });

    it('audits what an operator tool sends, under the operator and request id it names, as via nats', async () => {
      const requestId = `nats-${tag}-1`;
      const reply = await ask(client.nc, subject('grant'), { idempotencyKey: 'nats-g1', kind: 'plan', amount: '3', currency: 'USD' }, operatorHeaders(`carol-${tag}`, requestId));
      expect(reply.ok).toBe(true);
      // A retry with the same key is another request: audited again, with the first result.
      const retry = await ask(client.nc, subject('grant'), { idempotencyKey: 'nats-g1', kind: 'plan', amount: '3', currency: 'USD' }, operatorHeaders(`carol-${tag}`));
      expect(retry.entry.id).toBe(reply.entry.id);
      const listed = await ask(client.nc, admin('audit.list'), { operator: `carol-${tag}` });
      expect(listed.ok).toBe(true);
      expect(listed.entries).toHaveLength(2);
      expect(listed.entries[1]).toMatchObject({ operator: `carol-${tag}`, via: 'nats', command: 'wallet.grant', orgId: org, requestId, outcome: 'ok', detail: { entryId: reply.entry.id } });
      expect(listed.entries[0].requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect((await ask(client.nc, admin('audit.list'), { operator: `carol-${tag}`, limit: 0 })).error.code).toBe('INVALID_FIELD');
      // Roles that are not operators cannot publish there at all (NATS permissions): the gateway user, the control plane.
      for (const role of ['gateway', 'control-plane'] as const) {
        const nc = await connectAs(role);
        try {
          await expect(ask(nc, admin('audit.list'), {}, operatorHeaders('mallory'))).rejects.toThrow();
        } finally {
          await nc.close();
        }
      }
    });

    it('does nothing when the audit cannot record the action', async () => {
      const victim = `op-${tag}-c`;
      expect((await client.request(victim, 'topup', { idempotencyKey: 'seed', amount: '10.00', currency: 'USD', provider: 'bank', reference: 'seed-c' })).ok).toBe(true);
      const before = await ledgerTotals(victim);
      // The audit table refuses this organization's rows for a moment (a stand-in for a full disk or a lost connection).
      await sql(`create function op_${tag}_refuse() returns trigger language plpgsql as $$ begin if new.org_id = '${victim}' then raise exception 'audit unavailable'; end if; return new; end $$`);
      await sql(`create trigger op_${tag}_refuse before insert on operator_actions for each row execute function op_${tag}_refuse()`);
      try {
        const reply = await ask(client.nc, `${names.subjectPrefix}.wallet.${victim}.grant`, { idempotencyKey: 'blind', kind: 'plan', amount: '1000', currency: 'USD' }, operatorHeaders('dave'));
        expect(reply.error.code).toBe('UNAVAILABLE');
      } finally {
        await sql(`drop trigger op_${tag}_refuse on operator_actions`);
        await sql(`drop function op_${tag}_refuse()`);
      }
      expect(await ledgerTotals(victim)).toEqual(before);
      const retried = await ask(client.nc, `${names.subjectPrefix}.wallet.${victim}.grant`, { idempotencyKey: 'blind', kind: 'plan', amount: '1000', currency: 'USD' }, operatorHeaders('dave'));
      expect(retried.ok).toBe(true);
    });
  });

  it('keeps the audit append-only: the database refuses UPDATE, DELETE and TRUNCATE', async () => {
    const [row] = await sql(`select id from operator_actions order by id desc limit 1`);
    for (const statement of [
      `update operator_actions set operator = 'nobody' where id = ${row.id}`,
      `delete from operator_actions where id = ${row.id}`,
      `truncate operator_actions cascade`,
      `update operator_action_outcomes set outcome = 'ok' where action_id = ${row.id}`,
      `delete from operator_action_outcomes where action_id = ${row.id}`,
      `truncate operator_action_outcomes`,
    ]) {
      await expect(sql(statement)).rejects.toThrow(/append-only/);
    }
    const [still] = await sql(`select operator from operator_actions where id = $1`, [row.id]);
    expect(still.operator).not.toBe('nobody');
  });

  it('audits a plan subscription where its organization is served, with the operator it was forwarded with', async () => {
    // A second engine process of the same group: requests reach either, and those for the other's organizations are forwarded.
    const queueGroup = engine.config.queueGroup;
    const second = await startEngine({ QUEUE_GROUP: queueGroup, NODE_ID: `op-${tag}-second` }, names);
    try {
      const ownership = (e: TestEngine) => e.app.get(Ownership);
      await eventually(async () => [ownership(engine).serving, ownership(second).serving], ([a, b]) => a > 0 && b > 0 && a + b === engine.config.partitions, 30_000);
      const orgs = Array.from({ length: 12 }, (_, i) => `op-${tag}-f${i}`);
      const operatorNc = client.nc;
      for (const o of orgs) {
        const reply = await ask(operatorNc, `${names.subjectPrefix}.admin.plans.subscribe`, { orgId: o, plan: 'fwd', amount: '1', currency: 'USD', periodDays: 30 }, operatorHeaders(`erin-${tag}`, `fwd-${o}`));
        expect([o, reply.ok]).toEqual([o, true]);
      }
      const rows = await sql(`select org_id, node_id, operator, request_id, outcome from operator_audit where operator = $1 order by id`, [`erin-${tag}`]);
      expect(rows).toHaveLength(orgs.length);
      for (const r of rows) expect(r).toMatchObject({ operator: `erin-${tag}`, request_id: `fwd-${r.org_id}`, outcome: 'ok', node_id: ownership(engine).route(r.org_id).kind === 'here' ? engine.config.nodeId : second.config.nodeId });
      // Both processes served some, and some were forwarded: the headers crossed from the one that received to the one that serves.
      expect(new Set(rows.map((r: any) => r.node_id)).size).toBe(2);
      const forwarded = async (e: TestEngine) => (await e.app.get(BillingMetrics).forwarded.get()).values.filter((v) => v.labels.kind === 'admin').reduce((a, v) => a + v.value, 0);
      expect((await forwarded(engine)) + (await forwarded(second))).toBeGreaterThan(0);
    } finally {
      await second.stop();
    }

    async function ask(nc: NatsConnection, s: string, body: object, h: ReturnType<typeof headers>) {
      return JSON.parse(Buffer.from((await nc.request(s, Buffer.from(JSON.stringify(body)), { timeout: 10_000, headers: h })).data).toString());
    }
  });
});
