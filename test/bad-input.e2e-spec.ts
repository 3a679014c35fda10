import { createHmac, randomBytes } from 'crypto';
import { AddressInfo } from 'net';
import jwt from 'jsonwebtoken';
import { NatsConnection } from 'nats';
import { Socket } from 'socket.io-client';
import { INestApplicationContext } from '@nestjs/common';
import { WALLET_COMMANDS } from '../libs/contracts/src/subjects';
import { testAlertsConfig } from './support/alerts';
import { createAlertsApp } from '../apps/alerts/src/app';
import { isolatedNames, NATS_URL, sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { connectSocket, startGateway, TEST_JWT_SECRET, TestGateway } from './support/gateway';
import { ControlPlane, eventually } from './support/lifecycle';
import { connectAs } from './support/nats-roles';

/**
 * Bad input, all at once: every NATS subject (wallet, admin, alert webhooks, lifecycle), every
 * HTTP route of the gateway's OpenAPI document (plus the provider webhooks it leaves out) and
 * the socket.io handshake get malformed JSON, wrong types, huge payloads, absurd amounts,
 * unknown organizations and resources and forged tokens. Then: every one was refused, nothing
 * changed (a digest of every table, the events stream), and every process still answers.
 *
 * The digest covers whole tables, so run this file alone or in band (`npm test` is --runInBand).
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const ONE_MIB = 1024 * 1024;
const AMOUNT_JUNK: Json[] = ['-1', '0', '1e9', 'NaN', 'Infinity', 1.5, '99999999999999999999999', '0.000000001'];
const WEIRD_ORGS = ['../x', 'a b', 'x'.repeat(200)];
/** Commands that only read: they may answer a well-formed ok to junk they can ignore (a body of a balance request, an unknown org). */
const READ_ONLY = new Set(['balance', 'ledger', 'resources', 'usage', 'authorize', 'webhooks.get', 'budgets.get', 'ladder.get']);
/** The junk must be refused as input, never reach the database and fail there. */
const BUG_CODES = new Set(['INTERNAL', 'UNAVAILABLE']);

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

/** Values of another type than `v` (and, for numbers, absurd ones of the same type). */
function wrongTypes(v: Json): Json[] {
  if (typeof v === 'string') return [12345, -1, 1.5, true, false, {}, [], ['x'], { a: 1 }];
  if (typeof v === 'number') return ['12', 'abc', '', true, {}, [], [1], -1, 1.5, 1e308];
  if (Array.isArray(v)) return ['abc', 123, true, {}, [123], [{}], [null], [[]]];
  if (v !== null && typeof v === 'object') return ['abc', 123, true, [], [{}]];
  return ['abc', 123, {}];
}

/** Every path of a JSON template (not the root). */
function paths(v: Json, at: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = at.length ? [at] : [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

function get(v: Json, path: (string | number)[]): Json {
  return path.reduce<Json>((o, k) => (o as any)[k], v);
}

function setAt(template: Json, path: (string | number)[], value: Json): Json {
  const copy = clone(template);
  let o: any = copy;
  for (const k of path.slice(0, -1)) o = o[k];
  o[path[path.length - 1]] = value;
  return copy;
}

/**
 * One field at a time replaced by junk, the others left valid: wrong types everywhere, absurd
 * amounts in amount fields, unusable ids in id fields. The template itself is never produced.
 */
function mutations(template: Json): { label: string; body: Json }[] {
  const out: { label: string; body: Json }[] = [];
  for (const p of paths(template)) {
    const value = get(template, p);
    const name = p.filter((k) => typeof k === 'string').pop() ?? '';
    const values = [...wrongTypes(value)];
    if (/amount|rolloverCap|lowBalance/i.test(name) && typeof value === 'string') values.push(...AMOUNT_JUNK);
    if (/Id$|^code$|idempotencyKey/.test(name) && typeof value === 'string') values.push(...WEIRD_ORGS);
    for (const w of values) out.push({ label: `${p.join('.')}=${JSON.stringify(w).slice(0, 40)}`, body: setAt(template, p, w) });
  }
  return out;
}

/** Body-level junk for any JSON subject or route; `huge` is the largest payload the transport carries. */
function bodyJunk(template: Json, huge: number): { label: string; raw: string }[] {
  return [
    { label: 'empty', raw: '' },
    { label: '{', raw: '{' },
    { label: '[]', raw: '[]' },
    { label: 'null', raw: 'null' },
    { label: 'a string', raw: '"hello"' },
    { label: 'a number', raw: '123' },
    { label: 'true', raw: 'true' },
    { label: 'a NUL byte', raw: '{"a":"\u0000"}\u0000' },
    { label: 'invalid UTF-8', raw: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('latin1') },
    { label: 'a nested bomb', raw: '['.repeat(5000) + ']'.repeat(5000) },
    { label: '20 KiB JSON', raw: JSON.stringify({ ...(template as object), pad: 'x'.repeat(20 * 1024) }) },
    { label: `${huge} bytes`, raw: JSON.stringify('x'.repeat(huge - 2)) },
  ];
}

/** Runs tasks with at most `limit` in flight. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]();
      }
    }),
  );
  return results;
}

const b64url = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** The tables whose rows junk must never change, each ordered by its primary key. */
/** Table, order, and whether its rows belong to an organization. */
const DIGEST_TABLES: [string, string, boolean][] = [
  ['ledger_entries', 'org_id, seq', true],
  ['grants', 'org_id, id', true],
  ['wallets', 'org_id', true],
  ['meters', 'org_id, resource_id, day', true],
  ['resources', 'org_id, resource_id', true],
  ['voucher_codes', 'code', false],
  ['voucher_redemptions', 'code, org_id', true],
  ['plan_subscriptions', 'id', true],
  ['topup_intents', 'id', true],
  ['webhook_endpoints', 'id', true],
  ['holds', 'org_id, resource_id', true],
  ['auto_topup_settings', 'org_id', true],
  ['auto_topup_attempts', 'id', true],
  ['workspace_budgets', 'org_id, workspace_id', true],
  ['stop_commands', 'org_id, command_id', true],
  ['ladder_settings', 'org_id', true],
  ['storage_suspensions', 'org_id, suspension_id', true],
];

/** Organizations earlier tests left in the shared database. */
async function foreignOrgs(): Promise<string[]> {
  const rows = await sql<{ org_id: string }>(`select org_id from wallets union select org_id from resources union select org_id from plan_subscriptions`);
  return rows.map((r) => r.org_id);
}

/**
 * Every row of every table, but those of `foreign` organizations: this test's engine expires
 * their grants, grants their plan periods and bills their resources on time, which is not the
 * junk's doing. Junk reaches this test's organizations and the ones it makes up, and an
 * organization it made up would show as new.
 */
async function digest(foreign: readonly string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [table, key, perOrg] of DIGEST_TABLES) {
    const rows = await sql<{ row: string }>(`select row_to_json(t)::text as row from ${table} t where ${perOrg ? 'not (t.org_id = any($1))' : '$1::text[] is not null'} order by ${key}`, [foreign]);
    out[table] = rows.map((r) => r.row);
  }
  return out;
}

/** What changed between two digests, table by table, a few rows each. */
function diff(before: Record<string, string[]>, after: Record<string, string[]>): string[] {
  const out: string[] = [];
  for (const table of Object.keys(before)) {
    const b = new Set(before[table]);
    const a = new Set(after[table]);
    const added = after[table].filter((r) => !b.has(r));
    const removed = before[table].filter((r) => !a.has(r));
    for (const r of added.slice(0, 5)) out.push(`${table} + ${r.slice(0, 400)}`);
    for (const r of removed.slice(0, 5)) out.push(`${table} - ${r.slice(0, 400)}`);
    if (added.length + removed.length > 10) out.push(`${table}: ${added.length} added, ${removed.length} removed in all`);
  }
  return out;
}

describe('bad input, all at once', () => {
  const names = isolatedNames();
  const tag = randomBytes(3).toString('hex');
  const orgA = `bi-${tag}-a`;
  const orgB = `bi-${tag}-b`;
  const ghost = `bi-${tag}-ghost`;
  const voucherCode = `BI${tag}V`;
  const future = new Date(Date.now() + 20 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const running = { orgId: orgA, resourceId: 'r-run', workspaceId: 'ws-1', sku: 'h100-1x', storageGb: 10 };

  let engine: TestEngine;
  let gateway: TestGateway;
  let alerts: INestApplicationContext;
  let client: WalletClient;
  /** An operator's connection: every wallet command but `payment.*`, admin, webhooks, the streams. */
  let nc: NatsConnection;
  /** `payment.topup` and `payment.reverse` are the gateway's alone (NATS refuses them to anyone else). */
  let gatewayNc: NatsConnection;
  /** The subjects between engine processes are the engine's alone: junk there is sent as another engine process would. */
  let peerNc: NatsConnection;
  let plane: ControlPlane;
  let subscriptionId: string;
  let maxPayload: number;
  let engineUrl: string;
  const sockets: Socket[] = [];

  let before: Record<string, string[]>;
  let foreign: string[];
  let streamBefore: { total: number; lifecycleRejected: number };
  let rejectedBefore: number;
  let balanceBefore: any;

  /** Every refusal that was not what it should be; asserted empty at the end of each part. */
  const problems: string[] = [];
  const counts: Record<string, number> = {};
  const count = (kind: string, n = 1) => (counts[kind] = (counts[kind] ?? 0) + n);
  const codes: Record<string, number> = {};
  let lifecycleSent = 0;
  /** Those of them published on a subject naming an organization: each is announced to it (`lifecycle_rejected`). */
  let lifecycleAttributable = 0;
  const startedAt = Date.now();

  /** Events in the stream, but those of `foreign` organizations (see `digest`); `lifecycle_rejected` ones also apart. */
  const streamCount = async () => {
    const info = await (await nc.jetstreamManager()).streams.info(names.eventsStream, { subjects_filter: '>' });
    const prefix = `${names.subjectPrefix}.events.`;
    let total = 0;
    let lifecycleRejected = 0;
    for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
      const [org, type] = subject.slice(prefix.length).split('.');
      if (foreign.includes(org)) continue;
      total += count;
      if (type === 'lifecycle_rejected') lifecycleRejected += count;
    }
    return { total, lifecycleRejected };
  };
  const rejectedCount = async () =>
    (await sql<{ n: number }>(`select count(*)::int as n from rejected_lifecycle_events where subject like $1`, [`${names.lifecycleSubjectPrefix}.%`]))[0].n;

  /** Waits until the outbox is empty and the events stream stops growing. */
  async function settle(): Promise<void> {
    await eventually(async () => (await sql<{ n: number }>('select count(*)::int as n from outbox_events'))[0].n, (n) => n === 0);
    let last = -1;
    await eventually(
      async () => {
        const n = (await streamCount()).total;
        const stable = n === last;
        last = n;
        await new Promise((r) => setTimeout(r, 300));
        return stable;
      },
      (stable) => stable,
    );
  }

  async function ok(subject: string, body: object): Promise<any> {
    const msg = await nc.request(subject, Buffer.from(JSON.stringify(body)), { timeout: 10_000 });
    const reply = JSON.parse(Buffer.from(msg.data).toString('utf8'));
    if (!reply.ok) throw new Error(`${subject}: ${JSON.stringify(reply)}`);
    return reply;
  }

  beforeAll(async () => {
    // No tick in the test's lifetime (the first comes TICK_INTERVAL_MS / 20 after start): a running
    // resource is charged once by its lifecycle event and then holds still, so the digest can too.
    engine = await startEngine({ TICK_INTERVAL_MS: '3600000' }, names);
    foreign = await foreignOrgs(); // the engine's start has created the tables
    engineUrl = `http://127.0.0.1:${(engine.app.getHttpServer().address() as AddressInfo).port}`;
    gateway = await startGateway(names.subjectPrefix);
    alerts = await createAlertsApp(
      testAlertsConfig(names),
      process.env.TEST_LOGS ? undefined : false,
    );
    client = await WalletClient.connect(names.subjectPrefix);
    nc = client.nc;
    maxPayload = nc.info!.max_payload;
    gatewayNc = await connectAs('gateway');
    peerNc = await connectAs('billing');
    plane = await ControlPlane.connect(names.lifecycleSubjectPrefix);
    const p = names.subjectPrefix;

    // Two organizations: top-ups, a voucher grant, a voucher code redeemed, a plan, thresholds, a webhook, a running GPU.
    await ok(`${p}.wallet.${orgA}.topup`, { idempotencyKey: 'seed-t1', amount: '100.00', currency: 'USD', provider: 'stripe', reference: 'pi_seed_a' });
    await ok(`${p}.wallet.${orgB}.topup`, { idempotencyKey: 'seed-t1', amount: '50.00', currency: 'USD', provider: 'paypal', reference: 'order_seed_b' });
    await ok(`${p}.wallet.${orgA}.grant`, { idempotencyKey: 'seed-g1', kind: 'voucher', amount: '10', currency: 'USD', service: 'ai-notebook', expiresAt: future });
    await ok(`${p}.wallet.${orgA}.alerts.set`, { lowBalance: ['50', '10'] });
    await ok(`${p}.admin.vouchers.create`, { code: voucherCode, amount: '5', currency: 'USD', expiresAfterDays: 30, maxRedemptions: 3 });
    await ok(`${p}.wallet.${orgB}.redeem`, { idempotencyKey: 'seed-r1', code: voucherCode });
    subscriptionId = (await ok(`${p}.admin.plans.subscribe`, { orgId: orgB, plan: 'pro', amount: '20', currency: 'USD', periodDays: 30 })).subscription.id;
    await ok(`${p}.alerts.${orgA}.webhooks.set`, { endpoints: [{ url: 'http://127.0.0.1:9/hook', secret: 's'.repeat(16) }] });
    await plane.publish(running, 'RUNNING', Date.now() - 10 * 60_000);
    await eventually(() => sql(`select 1 from ledger_entries where org_id = $1 and type = 'debit' and resource_id = $2`, [orgA, running.resourceId]), (rows) => rows.length > 0);
    await eventually(() => sql(`select 1 from ledger_entries where org_id = $1 and type = 'grant' and idempotency_key like 'plan:%'`, [orgB]), (rows) => rows.length > 0);
    await settle();

    before = await digest(foreign);
    streamBefore = await streamCount();
    rejectedBefore = await rejectedCount();
    balanceBefore = (await client.request(orgA, 'balance')).balance;
  }, 60_000);

  beforeEach(() => {
    problems.length = 0;
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await alerts?.close();
    await gateway?.stop();
    await engine?.dispose(nc);
    await client?.close();
    await gatewayNc?.close();
    await peerNc?.close();
    await plane?.close();
    // eslint-disable-next-line no-console
    console.log(JSON.stringify({ junk: counts, refusalCodes: codes, seconds: (Date.now() - startedAt) / 1000 }, null, 1));
  });

  /** A NATS request; the reply must be a refusal with a code, or a well-formed ok for a read-only command. */
  async function natsJunk(kind: string, subject: string, command: string, raw: string | Buffer, label: string): Promise<void> {
    const data = typeof raw === 'string' ? Buffer.from(raw, raw.includes('\u00ff') ? 'latin1' : 'utf8') : raw;
    count(kind);
    let text: string;
    const p = names.subjectPrefix;
    const sender = subject.startsWith(`${p}.node.`) ? peerNc : new RegExp(`^${p}\\.wallet\\.[^.]+\\.payment\\.`).test(subject) ? gatewayNc : nc;
    try {
      const msg = await sender.request(subject, data, { timeout: 10_000 });
      text = Buffer.from(msg.data).toString('utf8');
    } catch (error) {
      const code = (error as { code?: string }).code;
      // The client refuses a payload over the server's max_payload before sending; NATS answers
      // "no responders" for a subject with an empty token (`../x`), which no wildcard matches.
      if (code === 'MAX_PAYLOAD_EXCEEDED') return void count(`${kind}: refused by the NATS client (over max_payload)`);
      if (code === '503') return void count(`${kind}: no responders (subject not routable)`);
      // No role may publish on a subject with an empty token: NATS refuses it before anyone sees it.
      if (code === 'PERMISSIONS_VIOLATION' && subject.split('.').includes('')) return void count(`${kind}: refused by NATS (subject with an empty token)`);
      problems.push(`${subject} [${label}]: no reply (${code ?? (error as Error).message})`);
      return;
    }
    let reply: any;
    try {
      reply = JSON.parse(text);
    } catch {
      problems.push(`${subject} [${label}]: reply is not JSON: ${text.slice(0, 200)}`);
      return;
    }
    if (reply?.ok === false) {
      const code = reply.error?.code;
      if (typeof code !== 'string' || code.length === 0 || typeof reply.error?.message !== 'string') problems.push(`${subject} [${label}]: malformed error ${text.slice(0, 200)}`);
      else if (BUG_CODES.has(code)) problems.push(`${subject} [${label}]: ${code} (${reply.error.message})`);
      codes[code] = (codes[code] ?? 0) + 1;
      return;
    }
    if (reply?.ok === true && READ_ONLY.has(command)) {
      const shape: Record<string, () => boolean> = {
        balance: () => typeof reply.balance?.orgId === 'string' && typeof reply.balance?.seq === 'number',
        ledger: () => Array.isArray(reply.entries),
        resources: () => Array.isArray(reply.resources),
        usage: () => Array.isArray(reply.usage),
        authorize: () => typeof reply.authorized === 'boolean',
        'budgets.get': () => Array.isArray(reply.budgets),
        'ladder.get': () => typeof reply.settings?.stopOverdraft === 'string',
        'webhooks.get': () => Array.isArray(reply.endpoints) && !text.includes('s'.repeat(16)),
      };
      if (!shape[command]()) problems.push(`${subject} [${label}]: ill-formed ok reply ${text.slice(0, 200)}`);
      count(`${kind}: ok (read-only)`);
      return;
    }
    problems.push(`${subject} [${label}]: ACCEPTED ${text.slice(0, 300)}`);
  }

  it('refuses junk on every wallet, admin, webhook and engine-to-engine subject with an error code', async () => {
    const p = names.subjectPrefix;
    const huge = maxPayload - 1024;
    const templates: Record<string, Json> = {
      topup: { idempotencyKey: 'junk-1', amount: '5.00', currency: 'USD', provider: 'stripe', reference: 'pi_junk' },
      grant: { idempotencyKey: 'junk-1', kind: 'voucher', amount: '5', currency: 'USD', service: 'ai-notebook', expiresAt: future, reference: 'ref-junk' },
      debit: { idempotencyKey: 'junk-1', amount: '1.00', service: 'gpu-container', workspaceId: 'ws-1', resourceId: 'r-unknown', description: 'junk', currency: 'USD' },
      reverse: { idempotencyKey: 'junk-1', amount: '1.00', currency: 'USD', reference: 'stripe:pi_unknown', reason: 'junk' },
      'payment.topup': { idempotencyKey: 'topup:junk-1', amount: '5.00', currency: 'USD', provider: 'stripe', reference: 'pi_junk' },
      'payment.reverse': { idempotencyKey: 'reverse:junk-1', amount: '1.00', currency: 'USD', reference: 'stripe:pi_unknown', reason: 'junk' },
      redeem: { idempotencyKey: 'junk-1', code: voucherCode },
      balance: {},
      ledger: { cursor: 0, limit: 10 },
      authorize: { service: 'gpu-container', sku: 'h100-1x', workspaceId: 'ws-1' },
      'alerts.set': { lowBalance: ['50', '10'] },
      usage: { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z', workspaceId: 'ws-1' },
      resources: {},
      'budgets.set': { workspaceId: 'ws-1', monthlyCap: '100.00', currency: 'USD' },
      'budgets.get': {},
      'ladder.set': { stopOverdraft: '1.00', storageDeletionDays: '7', storageReminderDays: ['1'] },
      'ladder.get': {},
    };
    expect(Object.keys(templates).sort()).toEqual([...WALLET_COMMANDS].sort());
    const tasks: (() => Promise<void>)[] = [];
    const add = (kind: string, subject: string, command: string, template: Json, withMutations: boolean) => {
      for (const j of bodyJunk(template, huge)) tasks.push(() => natsJunk(kind, subject, command, j.raw, j.label));
      tasks.push(() => natsJunk(kind, subject, command, JSON.stringify('x'.repeat(ONE_MIB)), '1 MiB string'));
      if (withMutations) for (const m of mutations(template)) tasks.push(() => natsJunk(kind, subject, command, JSON.stringify(m.body), m.label));
    };

    for (const command of WALLET_COMMANDS) {
      add('wallet', `${p}.wallet.${orgA}.${command}`, command, templates[command], true);
      add('wallet', `${p}.wallet.${ghost}.${command}`, command, templates[command], true);
      // Unusable organization ids: the subject refuses them before the body is read.
      for (const org of ['x'.repeat(200), '../x', 'org$1', 'org%2F..']) add('wallet', `${p}.wallet.${org}.${command}`, command, templates[command], false);
    }
    // Amounts for the wallet's money commands, also as a whole body of the wrong shape.
    for (const command of ['topup', 'grant', 'debit', 'reverse'])
      for (const a of AMOUNT_JUNK) tasks.push(() => natsJunk('wallet', `${p}.wallet.${orgA}.${command}`, command, JSON.stringify({ ...(templates[command] as object), amount: a }), `amount ${a}`));
    // Control characters and reserved keys in otherwise valid commands.
    tasks.push(() => natsJunk('wallet', `${p}.wallet.${orgA}.debit`, 'debit', JSON.stringify({ ...(templates.debit as object), description: 'nul\u0000byte' }), 'NUL in description'));
    tasks.push(() => natsJunk('wallet', `${p}.wallet.${orgA}.reverse`, 'reverse', JSON.stringify({ ...(templates.reverse as object), reason: 'nul\u0000byte' }), 'NUL in reason'));
    tasks.push(() => natsJunk('wallet', `${p}.wallet.${orgA}.debit`, 'debit', JSON.stringify({ ...(templates.debit as object), idempotencyKey: 'meter:r-run:2026-01-01:1' }), 'reserved key'));
    tasks.push(() => natsJunk('wallet', `${p}.wallet.${orgA}.topup`, 'topup', JSON.stringify({ ...(templates.topup as object), idempotencyKey: 'topup:a-paid-top-up' }), 'a payment key on the open subject'));
    tasks.push(() => natsJunk('wallet', `${p}.wallet.${orgA}.payment.topup`, 'payment.topup', JSON.stringify({ ...(templates.topup as object), idempotencyKey: 'client-key' }), 'a payment without its key'));
    tasks.push(() => natsJunk('wallet', `${p}.wallet.${orgA}.redeem`, 'redeem', JSON.stringify({ idempotencyKey: 'junk-r', code: `BI${tag}NOPE` }), 'unknown voucher code'));
    tasks.push(() => natsJunk('wallet', `${p}.wallet.${orgA}.authorize`, 'authorize', JSON.stringify({ ...(templates.authorize as object), sku: 'z999-64x' }), 'unknown SKU'));
    // Unknown commands.
    for (const c of ['refund', 'balance.extra', 'topup.now', 'BALANCE']) tasks.push(() => natsJunk('wallet', `${p}.wallet.${orgA}.${c}`, c, '{}', 'unknown command'));

    const admin: Record<string, Json> = {
      'vouchers.create': { code: `BI${tag}J`, amount: '10', currency: 'USD', service: 'ai-notebook', expiresAfterDays: 30, maxRedemptions: 5, campaignEndsAt: future },
      'plans.subscribe': { orgId: orgA, plan: 'pro', amount: '20', currency: 'USD', periodDays: 30, rolloverCap: '5', startsAt: future },
      'plans.cancel': { subscriptionId },
    };
    for (const [command, template] of Object.entries(admin)) add('admin', `${p}.admin.${command}`, command, template, true);
    for (const a of AMOUNT_JUNK) tasks.push(() => natsJunk('admin', `${p}.admin.plans.subscribe`, 'plans.subscribe', JSON.stringify({ ...(admin['plans.subscribe'] as object), periodDays: undefined, periodSeconds: a }), `periodSeconds ${a}`));
    tasks.push(() => natsJunk('admin', `${p}.admin.plans.cancel`, 'plans.cancel', JSON.stringify({ subscriptionId: '00000000-0000-0000-0000-000000000000' }), 'unknown subscription'));
    for (const c of ['vouchers.delete', 'plans', 'x']) tasks.push(() => natsJunk('admin', `${p}.admin.${c}`, c, '{}', 'unknown command'));

    // The subjects between engine processes (`<prefix>.node.<nodeId>.…`): a forwarded request is checked like any other.
    const node = `${p}.node.${engine.config.nodeId}`;
    for (const command of ['topup', 'debit', 'grant', 'balance']) add('node', `${node}.wallet.${orgA}.${command}`, command, templates[command], true);
    add('node', `${node}.admin.plans.subscribe`, 'plans.subscribe', admin['plans.subscribe'], true);
    for (const c of ['x', 'wallet', 'admin.x', 'lifecycle.x']) tasks.push(() => natsJunk('node', `${node}.${c}`, c, '{}', 'unknown command'));
    // A forwarded lifecycle message answers with its outcome (not a wallet reply): junk is rejected, never applied.
    for (const raw of ['', '{', 'null', '[]', '{"eventId":1}', JSON.stringify('x'.repeat(huge))]) {
      tasks.push(async () => {
        count('node');
        const reply = JSON.parse(Buffer.from((await peerNc.request(`${node}.lifecycle`, Buffer.from(raw), { timeout: 10_000 })).data).toString('utf8'));
        if (reply.kind !== 'rejected' || typeof reply.code !== 'string') problems.push(`${node}.lifecycle [${raw.slice(0, 20)}]: ${JSON.stringify(reply).slice(0, 200)}`);
      });
    }

    const webhooks: Json = { endpoints: [{ url: 'http://127.0.0.1:9/other', secret: 't'.repeat(16) }] };
    for (const org of [orgA, ghost]) {
      add('alerts', `${p}.alerts.${org}.webhooks.set`, 'webhooks.set', webhooks, true);
      add('alerts', `${p}.alerts.${org}.webhooks.get`, 'webhooks.get', {}, false);
      tasks.push(() => natsJunk('alerts', `${p}.alerts.${org}.webhooks.set`, 'webhooks.set', JSON.stringify({ endpoints: [{ url: 'http://127.0.0.1:9/nul', secret: 'nul\u0000'.repeat(5) }] }), 'NUL in secret'));
      for (const url of ['javascript:alert(1)', 'file:///etc/passwd', 'http://', `http://x/${'y'.repeat(3000)}`])
        tasks.push(() => natsJunk('alerts', `${p}.alerts.${org}.webhooks.set`, 'webhooks.set', JSON.stringify({ endpoints: [{ url, secret: 't'.repeat(16) }] }), `url ${url.slice(0, 30)}`));
      tasks.push(() => natsJunk('alerts', `${p}.alerts.${org}.webhooks.delete`, 'webhooks.delete', '{}', 'unknown command'));
    }
    for (const org of ['x'.repeat(200), 'org$1']) add('alerts', `${p}.alerts.${org}.webhooks.set`, 'webhooks.set', webhooks, false);

    await pool(tasks, 100);

    // A subject with a space is a NATS protocol error: the server drops that client's connection.
    // Sent on a throwaway connection; the engine never sees it, and must not care.
    const throwaway = await connectAs('operator', { url: NATS_URL, reconnect: false });
    await throwaway.request(`${p}.wallet.a b.balance`, Buffer.from(''), { timeout: 1000 }).then(
      () => problems.push('a subject with a space got a reply'),
      () => count('wallet: subject with a space (dropped by NATS)'),
    );
    await throwaway.close().catch(() => undefined);

    expect(problems).toEqual([]);
  });

  it('records every unusable lifecycle message with its reason, and bills nothing for it', async () => {
    const lp = names.lifecycleSubjectPrefix;
    const at = new Date().toISOString();
    const valid = { eventId: 'junk-e', orgId: orgA, workspaceId: 'ws-1', resourceId: 'r-junk', service: 'gpu-container', sku: 'h100-1x', storageGb: 10, status: 'RUNNING', at };
    const messages: [string, string][] = [];
    const add = (subject: string, body: string) => messages.push([subject, body]);
    let n = 0;
    const withId = (o: Json) => JSON.stringify({ ...(o as object), eventId: `junk-e-${++n}` });
    for (const j of bodyJunk(valid, 1_000_000)) add(`${lp}.${orgA}.r-junk`, j.raw);
    for (const m of mutations(valid)) if (!m.label.startsWith('eventId')) add(`${lp}.${orgA}.r-junk`, withId(m.body));
    for (const m of mutations(valid)) if (m.label.startsWith('eventId')) add(`${lp}.${orgA}.r-junk`, JSON.stringify(m.body));
    // Unknown SKU, and a subject that does not match the body.
    add(`${lp}.${orgA}.r-junk`, withId({ ...valid, sku: 'z999-64x' }));
    add(`${lp}.${ghost}.r-junk`, withId(valid));
    add(`${lp}.${orgA}.r-other`, withId(valid));
    add(`${lp}.${orgA}.r-junk.extra`, withId(valid));
    add(`${lp}.${orgA}`, withId(valid));
    for (const org of WEIRD_ORGS) add(`${lp}.${ghost}.r-junk`, withId({ ...valid, orgId: org }));
    // The running resource, with its SKU, service, workspace or disk changed: refused by design.
    const run = { ...valid, resourceId: running.resourceId };
    add(`${lp}.${orgA}.${running.resourceId}`, withId({ ...run, sku: 'a100-1x' }));
    add(`${lp}.${orgA}.${running.resourceId}`, withId({ ...run, workspaceId: 'ws-other' }));
    add(`${lp}.${orgA}.${running.resourceId}`, withId({ ...run, storageGb: 11 }));
    add(`${lp}.${orgA}.${running.resourceId}`, withId({ ...run, service: 'ai-notebook' }));
    // (A STOPPED with a changed attribute is not junk: what ends billing is always taken; see resources.e2e-spec.)

    // `<lp>.<orgId>.<resourceId>`: the rejection is announced to that organization; any other subject names no one.
    const attributable = (subject: string) => subject.slice(lp.length + 1).split('.').length === 2;
    const published = await pool(
      messages.map(([subject, body]) => async () => {
        count('lifecycle');
        try {
          await plane.raw(subject, body);
          if (attributable(subject)) lifecycleAttributable++;
          return 1;
        } catch (error) {
          problems.push(`lifecycle ${subject}: publish failed (${(error as Error).message})`);
          return 0;
        }
      }),
      50,
    );
    lifecycleSent = published.reduce((a: number, b: number) => a + b, 0);
    const rejected = await eventually(rejectedCount, (c) => c >= rejectedBefore + lifecycleSent, 15_000).catch(async () => rejectedCount());
    expect(rejected - rejectedBefore).toBe(lifecycleSent);
    const reasons = await sql<{ reason: string }>(`select reason from rejected_lifecycle_events where subject like $1 order by id offset $2`, [`${lp}.%`, rejectedBefore]);
    expect(reasons.every((r) => /^[A-Z_]+: .+/.test(r.reason))).toBe(true);
    expect(problems).toEqual([]);
  });

  it('answers every HTTP route with a 4xx and a JSON body, never a 5xx', async () => {
    const doc = await (await fetch(`${gateway.url}/docs-json`)).json();
    const otherSecret = 'another-secret-0123456789abcdef';
    const now = Math.floor(Date.now() / 1000);
    // An organization token claiming `role: admin` is an organization's token like any other (operator routes answer 403).
    const orgClaims = { issuer: gateway.tokens.issuer, audience: gateway.tokens.audience, expiresIn: 3600 };
    const valid = { user: gateway.token(orgA), ghost: gateway.token(ghost), 'role admin': jwt.sign({ org: orgA, role: 'admin' }, TEST_JWT_SECRET, orgClaims) };
    const forged: Record<string, string | undefined> = {
      none: undefined,
      garbage: 'Bearer garbage',
      'empty bearer': 'Bearer ',
      basic: 'Basic dXNlcjpwYXNz',
      'other secret': `Bearer ${jwt.sign({ org: orgA, role: 'admin' }, otherSecret, { expiresIn: 3600 })}`,
      expired: `Bearer ${jwt.sign({ org: orgA, exp: now - 60 }, TEST_JWT_SECRET)}`,
      'alg none': `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ org: orgA, role: 'admin', exp: now + 3600 })}.`,
      HS512: `Bearer ${jwt.sign({ org: orgA, exp: now + 3600 }, TEST_JWT_SECRET, { algorithm: 'HS512' })}`,
      'no exp': `Bearer ${jwt.sign({ org: orgA }, TEST_JWT_SECRET)}`,
      'no org': `Bearer ${jwt.sign({ sub: 'x', exp: now + 3600 }, TEST_JWT_SECRET)}`,
      // The organizations' secret cannot make an operator token, whatever it claims.
      'operator audience, organization secret': `Bearer ${jwt.sign({ sub: 'mallory' }, TEST_JWT_SECRET, { ...orgClaims, audience: gateway.operatorTokens.audience })}`,
      ...Object.fromEntries(WEIRD_ORGS.map((o) => [`org ${o.slice(0, 10)}`, `Bearer ${jwt.sign({ org: o, exp: now + 3600 }, TEST_JWT_SECRET)}`])),
    };

    type Route = { method: string; path: string; template: Json | null; query: string[]; readOnly: boolean };
    const routes: Route[] = [];
    // /health and /metrics take no input: their junk is sent after the storm, one at a time (see below).
    const quiet = ['/health', '/metrics'];
    for (const [path, ops] of Object.entries<any>((doc as any).paths))
      for (const [method, op] of Object.entries<any>(ops)) {
        routes.push({
          method: method.toUpperCase(),
          path,
          template: op.requestBody?.content?.['application/json']?.schema?.example ?? (op.requestBody ? {} : null),
          query: (op.parameters ?? []).filter((q: any) => q.in === 'query').map((q: any) => q.name),
          // A DELETE that takes no input (turning auto top-up off) changes nothing where there is nothing to turn off: the tables below say whether it did.
          readOnly: method === 'get' || (method === 'delete' && !op.requestBody),
        });
      }
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining(['GET /api/v1/wallet', 'POST /api/v1/topups', 'POST /api/v1/operator/organizations/{orgId}/grants', 'POST /api/v1/operator/vouchers', 'GET /api/v1/operator/audit']));
    // The provider webhooks are left out of the document (ApiExcludeController): added by hand.
    routes.push({ method: 'POST', path: '/webhooks/stripe', template: { id: 'evt_1', type: 'payment_intent.succeeded', data: { object: { id: 'pi_1', amount_received: 100, currency: 'usd', metadata: { topupId: 'x' } } } }, query: [], readOnly: false });
    routes.push({ method: 'POST', path: '/webhooks/paypal', template: { id: 'WH-1', event_type: 'PAYMENT.CAPTURE.COMPLETED', resource: { id: 'c1', amount: { value: '10.00', currency_code: 'USD' } } }, query: [], readOnly: false });
    routes.push({ method: 'GET', path: '/webhooks/vnpay/ipn', template: null, query: ['vnp_TxnRef', 'vnp_Amount', 'vnp_ResponseCode', 'vnp_TransactionStatus', 'vnp_SecureHash', 'vnp_TmnCode'], readOnly: false });
    routes.push({ method: 'GET', path: '/api/v1/nope', template: null, query: [], readOnly: false });
    routes.push({ method: 'DELETE', path: '/api/v1/wallet', template: null, query: [], readOnly: false });

    async function send(route: Route, kind: string, label: string, auth: string | undefined, query: string, body: string | undefined, headers: Record<string, string> = {}, contentType = 'application/json'): Promise<void> {
      count(kind);
      const where = `${route.method} ${route.path}${query ? `?${query.slice(0, 60)}` : ''} [${label}]`;
      let status: number;
      let text: string;
      let type: string;
      try {
        const res = await fetch(`${gateway.url}${route.path}${query ? `?${query}` : ''}`, {
          method: route.method,
          headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': contentType } : {}), ...headers },
          body,
          signal: AbortSignal.timeout(20_000),
        });
        status = res.status;
        type = res.headers.get('content-type') ?? '';
        text = await res.text();
      } catch (error) {
        problems.push(`${where}: no answer (${(error as Error).message})`);
        return;
      }
      // Setting up a card takes no input: whatever the body, it asks Stripe, and this gateway has none (PAYMENT_PROVIDERS=offline: 503, documented).
      if (status === 503 && route.path === '/api/v1/autotopup/setup' && text.includes('PAYMENT_PROVIDERS=offline')) return void count(`${kind}: 503 (offline: no Stripe to set a card up with)`);
      if (status >= 500) return void problems.push(`${where}: ${status} ${text.slice(0, 200)}`);
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        if (!(status < 300 && route.path === '/metrics')) problems.push(`${where}: ${status} body is not JSON (${type}): ${text.slice(0, 100)}`);
        return;
      }
      if (status >= 400) return void count(`${kind}: ${status}`);
      // VNPAY's IPN always answers 200 with a code (its protocol); junk must never be confirmed.
      if (route.path === '/webhooks/vnpay/ipn') {
        if (typeof json.RspCode !== 'string' || json.RspCode === '00') problems.push(`${where}: VNPAY confirmed ${text}`);
        return void count(`${kind}: 200 with RspCode ${json.RspCode}`);
      }
      const validAuth = Object.values(valid).some((v) => auth === `Bearer ${v}`);
      if (route.readOnly && (validAuth || !route.path.startsWith('/api/'))) {
        return void count(`${kind}: ${status} (read-only)`);
      }
      problems.push(`${where}: ACCEPTED ${status} ${text.slice(0, 300)}`);
    }

    const tasks: (() => Promise<void>)[] = [];
    const taskRoutes: string[] = [];
    const push = (route: Route, t: () => Promise<void>) => {
      tasks.push(t);
      taskRoutes.push(route.path);
    };
    const queryJunk = ['', 'abc', '-1', '0', '1e9', 'NaN', 'Infinity', '1.5', '99999999999999999999999', '0.000000001', 'x'.repeat(4000), '../x', 'a b', '%00', '2026-13-45T99:99:99Z'];
    for (const route of routes) {
      const bodies: { label: string; raw: string | undefined; type?: string }[] = [];
      if (route.template !== null) {
        bodies.push({ label: 'no body', raw: undefined });
        for (const j of bodyJunk(route.template, ONE_MIB)) bodies.push({ label: j.label, raw: j.raw });
        for (const m of mutations(route.template)) bodies.push({ label: m.label, raw: JSON.stringify(m.body) });
        bodies.push({ label: 'form', raw: 'a=1&b=2', type: 'application/x-www-form-urlencoded' });
        bodies.push({ label: 'text', raw: 'hello', type: 'text/plain' });
      } else {
        bodies.push({ label: 'no query', raw: undefined });
      }
      const queries: { label: string; q: string }[] = [];
      for (const name of route.query) {
        for (const v of queryJunk) queries.push({ label: `${name}=${v.slice(0, 20)}`, q: `${name}=${encodeURIComponent(v)}` });
        queries.push({ label: `${name} twice`, q: `${name}=1&${name}=2` });
        queries.push({ label: `${name}[a]`, q: `${name}[a]=1` });
      }
      if (route.query.length) queries.push({ label: 'all junk', q: route.query.map((q) => `${q}=-1`).join('&') });

      // The provider webhooks take no token: one pass. The API: as a user, as a user of an unknown organization, as one claiming admin.
      const who = route.path.startsWith('/webhooks/') ? { none: '' } : valid;
      for (const [whoName, token] of Object.entries(who)) {
        const auth = token ? `Bearer ${token}` : undefined;
        for (const b of bodies) {
          // The 1 MiB body costs the same refusal whoever sends it: once per route.
          if (b.label === `${ONE_MIB} bytes` && whoName !== 'user' && whoName !== 'none') continue;
          push(route, () => send(route, 'http', `${whoName}, ${b.label}`, auth, '', b.raw, {}, b.type));
        }
        for (const q of queries) push(route, () => send(route, 'http', `${whoName}, ${q.label}`, auth, q.q, undefined));
      }
      for (const [label, auth] of Object.entries(forged)) {
        push(route, () => send(route, 'http', `token ${label}`, auth, '', route.template === null ? undefined : '{}'));
        push(route, () => send(route, 'http', `token ${label}, {`, auth, route.query.length ? `${route.query[0]}=abc` : '', route.template === null ? undefined : '{'));
      }
    }
    // Provider signatures that do not verify (no request ever leaves for a real certificate URL).
    const stripeBody = JSON.stringify({ id: 'evt_x', type: 'payment_intent.succeeded', data: { object: { id: 'pi_x' } } });
    const stripeRoute = routes.find((r) => r.path === '/webhooks/stripe')!;
    const paypalRoute = routes.find((r) => r.path === '/webhooks/paypal')!;
    const t = Math.floor(Date.now() / 1000);
    for (const sig of ['', 'garbage', `t=${t},v1=${'0'.repeat(64)}`, `t=${t},v1=${createHmac('sha256', 'whsec_wrong').update(`${t}.${stripeBody}`).digest('hex')}`, `t=1,v1=abc`, 'x'.repeat(4000)])
      push(stripeRoute, () => send(stripeRoute, 'http', `stripe-signature ${sig.slice(0, 20)}`, undefined, '', stripeBody, { 'stripe-signature': sig }));
    const paypalHeaders = (over: Record<string, string>) => ({
      'paypal-transmission-id': 'tid-1',
      'paypal-transmission-time': new Date().toISOString(),
      'paypal-transmission-sig': 'c2ln',
      'paypal-cert-url': 'https://evil.example/cert.pem',
      'paypal-auth-algo': 'SHA256withRSA',
      ...over,
    });
    for (const over of [{}, { 'paypal-cert-url': 'file:///etc/passwd' }, { 'paypal-cert-url': 'not a url' }, { 'paypal-auth-algo': 'none' }, { 'paypal-transmission-time': 'yesterday' }, { 'paypal-transmission-time': '1970-01-01T00:00:00Z' }, { 'paypal-transmission-sig': '' }])
      push(paypalRoute, () => send(paypalRoute, 'http', `paypal ${JSON.stringify(over).slice(0, 40)}`, undefined, '', stripeBody, paypalHeaders(over as Record<string, string>)));

    const quietTasks: (() => Promise<void>)[] = [];
    const stormTasks: (() => Promise<void>)[] = [];
    tasks.forEach((t, i) => (quiet.includes(taskRoutes[i]) ? quietTasks : stormTasks).push(t));
    const t0 = Date.now();
    await pool(stormTasks, 50);
    await pool(quietTasks, 1);
    count(`http: seconds`, Math.round((Date.now() - t0) / 1000));
    expect(quiet.every((q) => routes.some((r) => r.path === q))).toBe(true);
    expect(problems).toEqual([]);
  });

  it('refuses every socket without a valid token at the handshake', async () => {
    const otherSecret = 'another-secret-0123456789abcdef';
    const now = Math.floor(Date.now() / 1000);
    const tokens: [string, unknown][] = [
      ['no token', undefined],
      ['empty', ''],
      ['garbage', 'garbage'],
      ['a number', 12345],
      ['an object', { org: orgA }],
      ['an array', [gateway.token(orgA)]],
      ['other secret', jwt.sign({ org: orgA }, otherSecret, { expiresIn: 3600 })],
      ['expired', jwt.sign({ org: orgA, exp: now - 60 }, TEST_JWT_SECRET)],
      ['alg none', `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ org: orgA, exp: now + 3600 })}.`],
      ['HS512', jwt.sign({ org: orgA, exp: now + 3600 }, TEST_JWT_SECRET, { algorithm: 'HS512' })],
      ['no exp', jwt.sign({ org: orgA }, TEST_JWT_SECRET)],
      ['no org', jwt.sign({ sub: 'x', exp: now + 3600 }, TEST_JWT_SECRET)],
      ['org a number', jwt.sign({ org: 123, exp: now + 3600 }, TEST_JWT_SECRET)],
      ['tampered payload', (() => { const [h, , s] = gateway.token(orgA).split('.'); return `${h}.${b64url({ org: orgB, exp: now + 3600 })}.${s}`; })()],
      ['huge', 'x'.repeat(200_000)],
      ...WEIRD_ORGS.map((o): [string, unknown] => [`org ${o.slice(0, 10)}`, jwt.sign({ org: o, exp: now + 3600 }, TEST_JWT_SECRET)]),
    ];
    await Promise.all(
      tokens.map(async ([label, token]) => {
        count('socket');
        const outcome = await Promise.race([
          connectSocket(gateway.url, token).then(
            (s) => {
              sockets.push(s);
              return 'connected';
            },
            (error: Error) => (error.message ? 'refused' : 'refused without a reason'),
          ),
          new Promise<string>((r) => setTimeout(() => r('no answer in 10 s'), 10_000).unref()),
        ]);
        if (outcome !== 'refused') problems.push(`socket [${label}]: ${outcome}`);
      }),
    );
    expect(problems).toEqual([]);
  });

  it('changed nothing: every table, the events stream; only rejected lifecycle messages were recorded', async () => {
    // Anything the junk set off (a commit, an outbox event, a plan period) has time to land.
    await new Promise((r) => setTimeout(r, 1000));
    await settle();
    expect(diff(before, await digest(foreign))).toEqual([]);
    // The only events: one `lifecycle_rejected` per rejected message whose subject names an organization.
    const stream = await streamCount();
    expect(lifecycleAttributable).toBeGreaterThan(0);
    expect(lifecycleAttributable).toBeLessThan(lifecycleSent);
    expect(stream).toEqual({ total: streamBefore.total + lifecycleAttributable, lifecycleRejected: streamBefore.lifecycleRejected + lifecycleAttributable });
    expect(await rejectedCount()).toBe(rejectedBefore + lifecycleSent);
  });

  it('still answers everywhere: NATS, HTTP, sockets, health', async () => {
    const p = names.subjectPrefix;
    const balance = await client.request(orgA, 'balance');
    expect(balance).toMatchObject({ ok: true, balance: { total: balanceBefore.total, seq: balanceBefore.seq } });
    expect((await ok(`${p}.alerts.${orgA}.webhooks.get`, {})).endpoints).toHaveLength(1);
    const cancel = JSON.parse(Buffer.from((await nc.request(`${p}.admin.plans.cancel`, Buffer.from('{}'), { timeout: 10_000 })).data).toString());
    expect(cancel).toMatchObject({ ok: false, error: { code: 'MISSING_FIELD' } });

    const res = await fetch(`${gateway.url}/api/v1/wallet`, { headers: { authorization: `Bearer ${gateway.token(orgA)}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).balance).toMatchObject({ total: balanceBefore.total });

    const socket = await connectSocket(gateway.url, gateway.token(orgA));
    sockets.push(socket);
    const early = (socket as Socket & { early: any[] }).early;
    const snapshot = await eventually(async () => early[0], (b) => b !== undefined, 10_000);
    expect(snapshot).toMatchObject({ orgId: orgA, total: balanceBefore.total });

    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
    expect((await fetch(`${engineUrl}/health`)).status).toBe(200);
  });

  /**
   * Bugs this test found (all fixed), each kept as a case of its own so that it stays fixed.
   * They run last, after the state check above.
   */
  describe('bugs it found, fixed', () => {
    const natsReply = async (subject: string, body: string) => JSON.parse(Buffer.from((await nc.request(subject, Buffer.from(body), { timeout: 10_000 })).data).toString('utf8'));
    const future2 = new Date(Date.now() + 40 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');

    // libs/contracts/src/wallet-command-parsers.ts parseDebit: a description with U+0000 passes, PostgreSQL refuses the text, the reply is UNAVAILABLE "retry".
    it('refuses a debit whose description holds a NUL character as input (INVALID_FIELD), not UNAVAILABLE', async () => {
      const reply = await natsReply(`${names.subjectPrefix}.wallet.${orgA}.debit`, JSON.stringify({ idempotencyKey: 'bug-nul-1', amount: '1.00', service: 'gpu-container', workspaceId: 'ws-1', description: 'nul\u0000byte' }));
      expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_FIELD' } });
    });

    // libs/contracts/src/wallet-command-parsers.ts parseReverse: the same with `reason`.
    it('refuses a reversal whose reason holds a NUL character as input (INVALID_FIELD), not UNAVAILABLE', async () => {
      const reply = await natsReply(`${names.subjectPrefix}.wallet.${orgA}.reverse`, JSON.stringify({ idempotencyKey: 'bug-nul-2', amount: '1.00', currency: 'USD', reference: 'stripe:pi_x', reason: 'nul\u0000byte' }));
      expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_FIELD' } });
    });

    // libs/contracts/src/admin-requests.ts parsePlanSubscription: `parseOrgId(String(required(input, 'orgId')))` turns 12345, -1, true, ["x"] into organizations.
    it('refuses plans.subscribe with a non-string orgId, and subscribes no one', async () => {
      const reply = await natsReply(`${names.subjectPrefix}.admin.plans.subscribe`, JSON.stringify({ orgId: 12345, plan: 'pro', amount: '20', currency: 'USD', periodDays: 30, startsAt: future2 }));
      const rows = await sql(`select id from plan_subscriptions where org_id = '12345'`);
      expect({ reply, rows }).toMatchObject({ reply: { ok: false, error: { code: expect.stringMatching(/^(INVALID_FIELD|INVALID_ORG_ID)$/) } }, rows: [] });
    });

    // libs/contracts/src/admin-requests.ts parsePlanSubscription: the whole-number check is on periodMs, so 1.5 days (129600000 ms) or 1.5 s passes.
    it('refuses plans.subscribe with a fractional periodDays or periodSeconds', async () => {
      const p = names.subjectPrefix;
      const days = await natsReply(`${p}.admin.plans.subscribe`, JSON.stringify({ orgId: orgB, plan: 'half', amount: '1', currency: 'USD', periodDays: 1.5, startsAt: future2 }));
      const seconds = await natsReply(`${p}.admin.plans.subscribe`, JSON.stringify({ orgId: orgB, plan: 'half', amount: '1', currency: 'USD', periodSeconds: 1.5, startsAt: future2 }));
      expect([days, seconds]).toMatchObject([{ ok: false, error: { code: 'INVALID_FIELD' } }, { ok: false, error: { code: 'INVALID_FIELD' } }]);
    });

    // apps/alerts/src/webhook-commands.ts parseWebhookEndpoints: a secret with U+0000 passes, PostgreSQL refuses it, the reply is UNAVAILABLE "retry".
    it('refuses a webhook secret holding a NUL character as input (INVALID_FIELD), not UNAVAILABLE', async () => {
      const reply = await natsReply(`${names.subjectPrefix}.alerts.${orgA}.webhooks.set`, JSON.stringify({ endpoints: [{ url: 'http://127.0.0.1:9/nul', secret: 'nul\u0000'.repeat(5) }] }));
      expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_FIELD' } });
    });

    // apps/gateway/src/wallet/billing.client.ts send(): JSON.stringify of a deeply nested body throws inside the try, reported as "the engine did not answer" (503).
    it('answers a deeply nested JSON body with a 400, not a 503', async () => {
      const res = await fetch(`${gateway.url}/api/v1/wallet/redeem`, { method: 'POST', headers: { authorization: `Bearer ${gateway.token(orgA)}`, 'content-type': 'application/json' }, body: '['.repeat(5000) + ']'.repeat(5000) });
      expect(res.status).toBe(400);
    });

    // apps/gateway/src/payments/topups.controller.ts: the only route whose body never reaches the engine's 16 KiB limit; a padded 20 KiB body starts a top-up.
    it('refuses a 20 KiB top-up body as too large, and records no top-up', async () => {
      const res = await fetch(`${gateway.url}/api/v1/topups`, { method: 'POST', headers: { authorization: `Bearer ${gateway.token(orgB)}`, 'content-type': 'application/json' }, body: JSON.stringify({ amount: '7.00', currency: 'USD', provider: 'stripe', pad: 'x'.repeat(20 * 1024) }) });
      const rows = await sql(`select id from topup_intents where org_id = $1`, [orgB]);
      expect({ status: res.status, rows }).toEqual({ status: 413, rows: [] });
    });

    // apps/billing/src/resources/lifecycle.consumer.ts reject(): the payload with a NUL byte cannot be stored, so the message is nak'ed,
    // redelivered up to the consumer's delivery limit (then 20) and then dropped by JetStream, never recorded.
    it('records a lifecycle message holding a NUL byte in rejected_lifecycle_events', async () => {
      const subject = `${names.lifecycleSubjectPrefix}.${orgA}.r-nul`;
      await plane.raw(subject, '{"eventId":"nul"}\u0000');
      const rows = await eventually(() => sql(`select reason from rejected_lifecycle_events where subject = $1`, [subject]), (r) => r.length > 0, 4000).catch(() => []);
      expect(rows).toHaveLength(1);
    });
  });
});
