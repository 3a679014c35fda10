import { randomBytes } from 'crypto';
import { INestApplicationContext } from '@nestjs/common';
import { AckPolicy, connect, JSONCodec, NatsConnection, NatsError } from 'nats';
import { Socket } from 'socket.io-client';
import { createAlertsApp } from '../apps/alerts/src/app';
import { GatewayStats } from '../apps/gateway/src/live/balance.gateway';
import { natsAuth } from '../libs/messaging/src/nats-auth';
import { testAlertsConfig } from './support/alerts';
import { ledgerTotals, readEvents, sql, startEngine, TestEngine, TestNames } from './support/engine';
import { connectSocket, startGateway, TestGateway } from './support/gateway';
import { ControlPlane, eventually } from './support/lifecycle';
import { connectAs, runPasswords, SHIPPED_NATS_CONFIG } from './support/nats-roles';
import { startNats, TestNats } from './support/servers';

/**
 * The bus is authenticated and authorized by NATS itself: a nats-server of this test's own runs
 * config/nats/nats-server.conf exactly as shipped (the other tests run it with their own subject
 * prefixes in place of the defaults), and the engine, the gateway and the alert service run
 * against it with the default names. Each client connects as a role and tries what that role may
 * and may not do.
 */
const SHIPPED_NAMES: TestNames = {
  subjectPrefix: 'billing',
  eventsStream: 'BILLING_EVENTS',
  controlStream: 'BILLING_CONTROL',
  lifecycleStream: 'GPU_LIFECYCLE',
  lifecycleSubjectPrefix: 'gpu.lifecycle',
  lifecycleConsumer: 'billing-engine',
  ownersBucket: 'BILLING_OWNERS',
};
const jc = JSONCodec<any>();
const tag = randomBytes(3).toString('hex');
const orgA = `sec-${tag}-a`;
const orgB = `sec-${tag}-b`;
const future = new Date(Date.now() + 30 * 86_400_000).toISOString();

/** What a request to `subject` comes to: the reply, or the NATS error code (PERMISSIONS_VIOLATION: refused by the server). */
async function attempt(nc: NatsConnection, subject: string, body: object | string = {}): Promise<any> {
  try {
    return jc.decode((await nc.request(subject, typeof body === 'string' ? Buffer.from(body) : jc.encode(body), { timeout: 5_000 })).data);
  } catch (error) {
    return (error as NatsError).code;
  }
}

/** The publications NATS refused to this connection (it says so asynchronously). */
function refusedPublications(nc: NatsConnection): string[] {
  const refused: string[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      const ctx = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
      if (ctx) refused.push(`${ctx.operation} ${ctx.subject}`);
    }
  })();
  return refused;
}

describe('NATS security with the shipped config/nats/nats-server.conf', () => {
  let nats: TestNats;
  let engine: TestEngine;
  let gateway: TestGateway;
  let alerts: INestApplicationContext;
  const connections: Record<'operator' | 'gateway' | 'alerts' | 'controlPlane' | 'billing', NatsConnection> = {} as never;
  let plane: ControlPlane;
  const sockets: Socket[] = [];
  const env = () => ({ NATS_URL: nats.url });

  beforeAll(async () => {
    nats = await startNats({ config: SHIPPED_NATS_CONFIG, env: runPasswords() });
    engine = await startEngine({ ...env(), TICK_INTERVAL_MS: '200' }, SHIPPED_NAMES);
    gateway = await startGateway(SHIPPED_NAMES.subjectPrefix, env());
    alerts = await createAlertsApp(testAlertsConfig(SHIPPED_NAMES, env()), process.env.TEST_LOGS ? undefined : false);
    connections.operator = await connectAs('operator', { url: nats.url });
    connections.gateway = await connectAs('gateway', { url: nats.url });
    connections.alerts = await connectAs('alerts', { url: nats.url });
    connections.controlPlane = await connectAs('control-plane', { url: nats.url });
    connections.billing = await connectAs('billing', { url: nats.url });
    plane = new ControlPlane(connections.controlPlane, SHIPPED_NAMES.lifecycleSubjectPrefix);
    for (const org of [orgA, orgB]) {
      const r = await attempt(connections.operator, `billing.wallet.${org}.topup`, { idempotencyKey: 'seed', amount: '100.00', currency: 'USD', provider: 'stripe', reference: `pi_${org}` });
      expect(r.ok).toBe(true);
    }
  }, 60_000);

  afterAll(async () => {
    for (const s of sockets) s.close();
    await alerts?.close();
    await gateway?.stop();
    if (engine) await engine.dispose(connections.operator);
    for (const nc of Object.values(connections)) await nc.close().catch(() => undefined);
    await nats?.stop();
  }, 60_000);

  it('refuses a connection without credentials, with a wrong password, or as a user that does not exist', async () => {
    const refusal = (options: object) => connect({ servers: nats.url, reconnect: false, ...options }).then((nc) => nc.close().then(() => 'connected'), (e: NatsError) => e.code);
    expect(await refusal({})).toBe('AUTHORIZATION_VIOLATION');
    expect(await refusal({ user: 'operator', pass: 'not-the-password' })).toBe('AUTHORIZATION_VIOLATION');
    expect(await refusal({ user: 'gateway', pass: process.env.NATS_PASSWORD_OPERATOR })).toBe('AUTHORIZATION_VIOLATION');
    expect(await refusal({ user: 'admin', pass: 'admin' })).toBe('AUTHORIZATION_VIOLATION');
  });

  it('lets the control plane publish lifecycle messages and ask authorize, balance, usage and resources, and bills what it reports', async () => {
    const cp = connections.controlPlane;
    const authorize = await attempt(cp, `billing.wallet.${orgA}.authorize`, { service: 'gpu-container', sku: 'h100-1x', workspaceId: 'ws-1' });
    expect(authorize).toMatchObject({ ok: true, authorized: true });
    await plane.publish({ orgId: orgA, resourceId: 'r-sec' }, 'RUNNING', Date.now() - 3_600_000);
    await plane.publish({ orgId: orgA, resourceId: 'r-sec' }, 'DELETED', Date.now() - 1_800_000);
    // Half an hour of an H100 at 2.50 an hour, asked as the control plane.
    await eventually(async () => (await attempt(cp, `billing.wallet.${orgA}.balance`)).balance.total, (total) => total === '98.75');
    expect((await attempt(cp, `billing.wallet.${orgA}.usage`, { from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() })).ok).toBe(true);
    expect((await attempt(cp, `billing.wallet.${orgA}.resources`)).ok).toBe(true);
  });

  it('lets the control plane read what the engine tells it: live, from the stream, and with a durable consumer of its own', async () => {
    const cp = connections.controlPlane;
    const live: string[] = [];
    const sub = cp.subscribe(`billing.events.${orgB}.*`, { callback: (_e, m) => live.push(m.subject) });
    await cp.flush();
    expect((await attempt(connections.operator, `billing.wallet.${orgB}.alerts.set`, { lowBalance: ['99.5'] })).ok).toBe(true);
    await attempt(connections.operator, `billing.wallet.${orgB}.debit`, { idempotencyKey: 'd-read', amount: '1', service: 'vm', workspaceId: 'ws-1' });
    await eventually(async () => live, (l) => l.includes(`billing.events.${orgB}.balance`) && l.includes(`billing.events.${orgB}.low_balance`));
    sub.unsubscribe();
    // The stream keeps the durable events (not `balance`, a live push only).
    expect((await readEvents(cp, 'BILLING_EVENTS', `billing.events.${orgB}.low_balance`, 1)).map((e) => [e.orgId, e.threshold])).toEqual([[orgB, '99.5']]);
    const jsm = await cp.jetstreamManager();
    await jsm.consumers.add('BILLING_EVENTS', { durable_name: 'control-plane', ack_policy: AckPolicy.Explicit, filter_subject: `billing.events.${orgB}.low_balance` });
    const consumer = await cp.jetstream().consumers.get('BILLING_EVENTS', 'control-plane');
    const m = await consumer.next({ expires: 5_000 });
    expect(m?.subject).toBe(`billing.events.${orgB}.low_balance`);
    await m!.ackAck();
    await jsm.consumers.delete('BILLING_EVENTS', 'control-plane');
  });

  it('refuses the control plane every credit, debit and admin command, and nothing changes in the ledger', async () => {
    const cp = connections.controlPlane;
    const before = { totals: await ledgerTotals(orgA), vouchers: await sql('select count(*)::int as n from voucher_codes'), plans: await sql('select count(*)::int as n from plan_subscriptions') };
    const credit = { idempotencyKey: 'cp-1', amount: '1000.00', currency: 'USD', provider: 'stripe', reference: 'pi_cp' };
    const tries: [string, object][] = [
      ['topup', credit],
      ['grant', { idempotencyKey: 'cp-1', kind: 'voucher', amount: '1000', currency: 'USD', expiresAt: future }],
      ['debit', { idempotencyKey: 'cp-1', amount: '1', service: 'vm', workspaceId: 'ws-1' }],
      ['reverse', { idempotencyKey: 'cp-1', amount: '1', currency: 'USD', reference: 'stripe:pi_x' }],
      ['payment.topup', { ...credit, idempotencyKey: 'topup:cp-1' }],
      ['payment.reverse', { idempotencyKey: 'reverse:cp-1', amount: '1', currency: 'USD', reference: 'stripe:pi_x' }],
      ['redeem', { idempotencyKey: 'cp-1', code: 'ANY' }],
      ['alerts.set', { lowBalance: ['1'] }],
      ['ledger', {}],
    ];
    for (const [command, body] of tries) expect([command, await attempt(cp, `billing.wallet.${orgA}.${command}`, body)]).toEqual([command, 'PERMISSIONS_VIOLATION']);
    const admin: [string, object][] = [
      ['billing.admin.vouchers.create', { code: `CP${tag}`, amount: '1000', currency: 'USD', expiresAfterDays: 30, maxRedemptions: 1 }],
      ['billing.admin.plans.subscribe', { orgId: orgA, plan: 'free-money', amount: '1000', currency: 'USD', periodDays: 30 }],
      [`billing.alerts.${orgA}.webhooks.set`, { endpoints: [{ url: 'https://attacker.example/x', secret: 's'.repeat(16) }] }],
      [`billing.node.${engine.config.nodeId}.wallet.${orgA}.topup`, credit],
    ];
    for (const [subject, body] of admin) expect([subject, await attempt(cp, subject, body)]).toEqual([subject, 'PERMISSIONS_VIOLATION']);
    // The engine's partition leases and the alert service's consumer are not the control plane's either.
    const refused = refusedPublications(cp);
    cp.publish('$KV.BILLING_OWNERS.p.0', Buffer.from('attacker'));
    await cp.flush();
    const jsm = await cp.jetstreamManager();
    await expect(jsm.consumers.delete('BILLING_EVENTS', 'alerts')).rejects.toThrow(/permission/i);
    await expect(jsm.streams.delete('BILLING_EVENTS')).rejects.toThrow(/permission/i);
    await eventually(async () => refused, (r) => r.includes('publish $KV.BILLING_OWNERS.p.0'));

    await new Promise((r) => setTimeout(r, 500)); // anything that got through would be committed by now
    expect(await ledgerTotals(orgA)).toEqual(before.totals);
    expect(await sql('select count(*)::int as n from voucher_codes')).toEqual(before.vouchers);
    expect(await sql('select count(*)::int as n from plan_subscriptions')).toEqual(before.plans);
  });

  it('gives each other role what it needs and refuses it what it does not', async () => {
    const { gateway: gw, alerts: al, operator: op, billing } = connections;
    const topup = { idempotencyKey: 'x-1', amount: '1.00', currency: 'USD', provider: 'stripe', reference: 'pi_x' };
    // The gateway credits paid top-ups (no one else may) and reads for browsers. It grants nothing as itself: its
    // operator API connects as `operator` and names the operator.
    expect((await attempt(gw, `billing.wallet.${orgB}.payment.topup`, { ...topup, idempotencyKey: 'topup:sec-paid' })).ok).toBe(true);
    expect(await attempt(gw, `billing.wallet.${orgB}.grant`, { idempotencyKey: 'g-gw', kind: 'voucher', amount: '1', currency: 'USD', expiresAt: future })).toBe('PERMISSIONS_VIOLATION');
    expect(await attempt(gw, 'billing.admin.vouchers.create', { code: `GW${tag}`, amount: '1', currency: 'USD', expiresAfterDays: 1, maxRedemptions: 1 })).toBe('PERMISSIONS_VIOLATION');
    expect((await attempt(gw, `billing.wallet.${orgB}.ledger`)).ok).toBe(true);
    for (const command of ['topup', 'debit', 'reverse']) expect([command, await attempt(gw, `billing.wallet.${orgB}.${command}`, topup)]).toEqual([command, 'PERMISSIONS_VIOLATION']);
    expect(await attempt(gw, 'billing.admin.plans.subscribe', {})).toBe('PERMISSIONS_VIOLATION');
    // The alert service serves webhooks and reads its consumer; it asks the wallet nothing.
    expect(await attempt(al, `billing.wallet.${orgB}.balance`)).toBe('PERMISSIONS_VIOLATION');
    expect((await (await op.jetstreamManager()).consumers.info('BILLING_EVENTS', 'alerts')).config.durable_name).toBe('alerts');
    // An operator credits with the plain commands and runs the admin ones, but not the gateway's payments.
    expect((await attempt(op, `billing.wallet.${orgB}.reverse`, { idempotencyKey: 'r-op', amount: '0.50', currency: 'USD', reference: 'manual' })).ok).toBe(true);
    expect((await attempt(op, 'billing.admin.vouchers.create', { code: `OP${tag}`, amount: '1', currency: 'USD', expiresAfterDays: 1, maxRedemptions: 1 })).ok).toBe(true);
    expect((await attempt(op, `billing.alerts.${orgB}.webhooks.get`)).ok).toBe(true);
    expect(await attempt(op, `billing.wallet.${orgB}.payment.topup`, { ...topup, idempotencyKey: 'topup:sec-op' })).toBe('PERMISSIONS_VIOLATION');
    expect(await attempt(op, `billing.node.${engine.config.nodeId}.ping`)).toBe('PERMISSIONS_VIOLATION');
    // Lifecycle messages are the control plane's alone.
    const refused = Object.fromEntries(Object.entries({ gw, al, op, billing }).map(([name, nc]) => [name, refusedPublications(nc)]));
    for (const nc of [gw, al, op, billing]) {
      nc.publish(`gpu.lifecycle.${orgB}.r-forged`, jc.encode({ eventId: 'forged', orgId: orgB, workspaceId: 'ws-1', resourceId: 'r-forged', service: 'vm', sku: 'h100-8x', status: 'RUNNING', at: new Date().toISOString() }));
      await nc.flush();
    }
    for (const name of Object.keys(refused)) await eventually(async () => refused[name], (r) => r.includes(`publish gpu.lifecycle.${orgB}.r-forged`));
    expect(await sql(`select 1 from resources where resource_id = 'r-forged'`)).toEqual([]);
  });

  it('lets no one but the engine publish balance events, and pushes one to the organization its subject names only', async () => {
    const collect = async (org: string) => {
      const socket = await connectSocket(gateway.url, gateway.token(org));
      sockets.push(socket);
      return (socket as Socket & { early: any[] }).early;
    };
    const seenA = await collect(orgA);
    const seenB = await collect(orgB);
    await eventually(async () => [seenA.length, seenB.length], ([a, b]) => a > 0 && b > 0);
    const real = (await attempt(connections.operator, `billing.wallet.${orgA}.balance`)).balance;
    const forged = (orgId: string, seq: number) => jc.encode({ ...real, orgId, seq, total: '1000000.00', eventId: `forged-${seq}`, type: 'balance' });

    // Forged by every other role, on the subject of orgA: NATS refuses each, nothing is stored or pushed.
    const { gateway: gw, alerts: al, operator: op, controlPlane: cp } = connections;
    const refused = [gw, al, op, cp].map((nc) => refusedPublications(nc));
    for (const [i, nc] of [gw, al, op, cp].entries()) {
      nc.publish(`billing.events.${orgA}.balance`, forged(orgA, 1_000_000 + i));
      await nc.jetstream().publish(`billing.events.${orgA}.balance`, forged(orgA, 2_000_000 + i), { timeout: 1_000 }).catch(() => undefined);
      await nc.flush();
    }
    for (const r of refused) await eventually(async () => r, (list) => list.includes(`publish billing.events.${orgA}.balance`));

    // Published by the engine's own user with another organization in the body (a bug, say): pushed to no one.
    const stats = gateway.app.get(GatewayStats);
    const refusedBefore = stats.refused;
    connections.billing.publish(`billing.events.${orgA}.balance`, forged(orgB, 3_000_000));
    await connections.billing.flush();
    await eventually(async () => stats.refused, (n) => n === refusedBefore + 1);

    // The sockets were listening all along: a real change still reaches orgA, and nothing forged reached either.
    await attempt(connections.operator, `billing.wallet.${orgA}.debit`, { idempotencyKey: 'd-after-forgery', amount: '0.25', service: 'vm', workspaceId: 'ws-1' });
    await eventually(async () => seenA.map((b) => b.seq), (seqs) => seqs.includes(real.seq + 1));
    await new Promise((r) => setTimeout(r, 300));
    for (const b of [...seenA, ...seenB]) expect(b.total).not.toBe('1000000.00');
    expect(seenB.every((b) => b.orgId === orgB)).toBe(true);
    expect(seenA.every((b) => b.orgId === orgA)).toBe(true);
  });

  it('refuses to start in production without the role\'s NATS credentials, naming the variable', () => {
    expect(() => natsAuth('billing', { NODE_ENV: 'production' })).toThrow(/NATS_PASSWORD_BILLING/);
    expect(() => natsAuth('control-plane', { NODE_ENV: 'production' })).toThrow(/NATS_PASSWORD_CONTROL_PLANE/);
  });
});
