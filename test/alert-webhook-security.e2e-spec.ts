import { randomBytes } from 'crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { INestApplication } from '@nestjs/common';
import { createAlertsApp } from '../apps/alerts/src/app';
import { AlertsConfig } from '../apps/alerts/src/alerts.config';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, verifyWebhookSignature } from '../apps/alerts/src/webhook-signature';
import { WebhookSecrets } from '../apps/alerts/src/webhook-secrets';
import { EXAMPLE_COM_ADDRESS, testAlertsConfig, testResolver } from './support/alerts';
import { isolatedNames, readEvents, sql, startEngine, TestEngine, testDatabaseUrl, WalletClient } from './support/engine';
import { eventually } from './support/lifecycle';

/** The receiver the alert service may reach (listed in ALERTS_WEBHOOK_ALLOW_CIDRS). */
const RECEIVER_HOST = '127.0.0.3';
/** An "internal service" on the same port: what a rebinding attack would reach. Never listed. */
const TRAP_HOST = '127.0.0.4';

interface Hit {
  readonly path: string;
  readonly eventId: string;
  readonly raw: Buffer;
  readonly signature: string;
}

/**
 * The alert service's database in this test: its own, because the test rotates the key every
 * stored secret is sealed with, which would strand the other alert tests' endpoints in the run's
 * shared database. The engine keeps the shared one (they meet only through NATS).
 */
const ADMIN_DATABASE_URL = process.env.TEST_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
function ownDatabase(): { name: string; url: string } {
  const name = `${process.env.TEST_DATABASE_NAME ?? 'billing_test'}_webhook_security`;
  const url = new URL(testDatabaseUrl());
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

/** A plain HTTP server recording every request; answers 204. */
class Listener {
  readonly hits: Hit[] = [];
  private server: Server | null = null;
  constructor(private readonly host: string) {}

  async start(port = 0): Promise<number> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    this.hits.push({ path: req.url ?? '', eventId: String(req.headers[EVENT_ID_HEADER.toLowerCase()]), raw: Buffer.concat(chunks), signature: String(req.headers[SIGNATURE_HEADER.toLowerCase()]) });
    res.writeHead(204).end();
  }
}

/**
 * The alert service against SSRF and leaked secrets, with the real engine, PostgreSQL, NATS and
 * local HTTP servers; DNS is the test's own resolver (never /etc/hosts), so names can lie on cue.
 */
describe('alert webhooks that cannot be turned against us', () => {
  const names = isolatedNames();
  const database = ownDatabase();
  const receiver = new Listener(RECEIVER_HOST);
  const trap = new Listener(TRAP_HOST);
  const k1 = `k1:${randomBytes(32).toString('base64')}`;
  const k2 = `k2:${randomBytes(32).toString('base64')}`;
  let port = 0;
  let engine: TestEngine;
  let client: WalletClient;
  let alerts: INestApplication | null = null;
  let key = 0;
  /** What `rebind.receiver.test` answers now: public when registered, the trap later. */
  let rebindTo = [EXAMPLE_COM_ADDRESS];
  const resolve = testResolver({
    'hooks.receiver.test': [RECEIVER_HOST],
    'internal.receiver.test': ['10.0.0.7'],
    'half.receiver.test': [EXAMPLE_COM_ADDRESS, '192.168.1.20'],
    'rebind.receiver.test': () => rebindTo,
  });

  const config = (env: Record<string, string>): AlertsConfig =>
    testAlertsConfig(names, { DATABASE_URL: database.url, ALERTS_WEBHOOK_ALLOW_CIDRS: `${RECEIVER_HOST}/32`, ALERTS_RETRY_BASE_MS: '50', ALERTS_RETRY_MAX_MS: '200', ...env });
  const startAlerts = async (env: Record<string, string>) => {
    alerts = await createAlertsApp(config(env), process.env.TEST_LOGS ? undefined : false, { resolve });
  };
  const stopAlerts = async () => {
    await alerts?.close();
    alerts = null;
  };
  const webhooks = async (org: string, command: 'set' | 'get', body?: object) => {
    const msg = await client.nc.request(`${names.subjectPrefix}.alerts.${org}.webhooks.${command}`, Buffer.from(body ? JSON.stringify(body) : ''), { timeout: 10_000 });
    return JSON.parse(Buffer.from(msg.data).toString('utf8'));
  };
  const wallet = async (org: string, command: string, body: object) => expect(await client.request(org, command, body)).toMatchObject({ ok: true });
  /** A low_balance event for `org` (top-up 100, threshold 50, debit 60); its event id. */
  const lowBalance = async (org: string): Promise<string> => {
    await wallet(org, 'topup', { idempotencyKey: `t-${++key}`, amount: '100', currency: 'USD', provider: 'stripe', reference: `pi_${key}` });
    await wallet(org, 'alerts.set', { lowBalance: ['50'] });
    await wallet(org, 'debit', { idempotencyKey: `d-${++key}`, amount: '60', service: 'gpu-container', workspaceId: 'ws-1' });
    const [event] = await readEvents(client.nc, names.eventsStream, `${names.subjectPrefix}.events.${org}.low_balance`, 1);
    return event.eventId as string;
  };
  const alertsSql = <T = any>(text: string, params: unknown[] = []) => sql<T>(text, params, database.url);
  const stored = (org: string) =>
    alertsSql<{ id: string; url: string; secret: string | null; secret_ciphertext: string | null; secret_key_id: string | null }>(
      `select id, url, secret, secret_ciphertext, secret_key_id from webhook_endpoints where org_id = $1 order by url`,
      [org],
    );
  const url = (path: string, host = RECEIVER_HOST) => `http://${host}:${port}${path}`;
  const verified = (path: string, eventId: string, secret: string) =>
    receiver.hits.some((h) => h.path === path && h.eventId === eventId && verifyWebhookSignature(h.raw, h.signature, secret, 60));

  beforeAll(async () => {
    await sql(`drop database if exists "${database.name}" with (force)`, [], ADMIN_DATABASE_URL);
    await sql(`create database "${database.name}"`, [], ADMIN_DATABASE_URL);
    engine = await startEngine({}, names);
    client = await WalletClient.connect(names.subjectPrefix);
    port = await receiver.start();
    // The same port on another loopback address: a URL's port reaches either, only the address decides.
    await trap.start(port);
    await startAlerts({ ALERTS_SECRET_KEYS: k1 });
  });

  afterAll(async () => {
    await stopAlerts();
    await receiver.stop();
    await trap.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    if (!process.env.KEEP_TEST_DATABASE) await sql(`drop database if exists "${database.name}" with (force)`, [], ADMIN_DATABASE_URL);
  });

  it('refuses a URL that is or resolves to an internal address with a clear code, and changes nothing', async () => {
    const org = 'ssrf-refused';
    const good = { url: url('/good'), secret: 'good-secret-0123456789' };
    expect(await webhooks(org, 'set', { endpoints: [good] })).toMatchObject({ ok: true });
    const before = { listed: await webhooks(org, 'get'), rows: await stored(org) };

    const forbidden = [
      `http://127.0.0.1:${port}/hook`,
      'http://10.1.2.3/hook',
      'http://172.20.0.5/hook',
      'http://192.168.1.1/hook',
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'http://[::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[fd00:ec2::254]/latest/meta-data/',
      'http://100.64.0.1/hook',
      'http://0.0.0.0:4222/',
      'http://2130706433/hook',
      'http://localhost:3003/metrics',
      'http://metadata.google.internal/computeMetadata/v1/',
      `http://internal.receiver.test:${port}/hook`,
      `http://half.receiver.test:${port}/hook`,
      url('/hook', TRAP_HOST),
    ];
    for (const bad of forbidden) {
      const reply = await webhooks(org, 'set', { endpoints: [good, { url: bad, secret: 'x'.repeat(16) }] });
      expect({ bad, reply }).toMatchObject({ bad, reply: { ok: false, error: { code: 'WEBHOOK_TARGET_FORBIDDEN', message: expect.stringContaining("'endpoints[1].url'") } } });
      expect(reply.error.message).toMatch(/public addresses only/);
    }
    expect(await webhooks(org, 'set', { endpoints: [{ url: 'http://nowhere.receiver.test/hook', secret: 'x'.repeat(16) }] })).toMatchObject({ ok: false, error: { code: 'WEBHOOK_HOST_NOT_FOUND' } });

    expect({ listed: await webhooks(org, 'get'), rows: await stored(org) }).toEqual(before);
  });

  it('delivers to the allow-listed receiver, signed with the secret the organization gave, while the database holds only ciphertext', async () => {
    const org = 'ssrf-allowed';
    const secrets = { '/direct': 'direct-secret-0123456789', '/named': 'named-secret-0123456789' };
    const set = await webhooks(org, 'set', {
      endpoints: [
        { url: url('/direct'), secret: secrets['/direct'] },
        { url: url('/named', 'hooks.receiver.test'), secret: secrets['/named'] },
      ],
    });
    expect(set).toMatchObject({ ok: true });
    expect(JSON.stringify(set)).not.toMatch(/secret-0123456789/);

    const rows = await stored(org);
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r).toMatchObject({ secret: null, secret_key_id: 'k1', secret_ciphertext: expect.stringMatching(/^v1\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/) });
      for (const plain of Object.values(secrets)) {
        for (const form of [plain, Buffer.from(plain).toString('base64'), Buffer.from(plain).toString('base64url'), Buffer.from(plain).toString('hex')]) expect(r.secret_ciphertext).not.toContain(form);
      }
    }

    const eventId = await lowBalance(org);
    await eventually(async () => verified('/direct', eventId, secrets['/direct']) && verified('/named', eventId, secrets['/named']), (ok) => ok);
  });

  it('does not deliver to a name that resolved public at registration and resolves internal at delivery (DNS rebinding)', async () => {
    const org = 'ssrf-rebind';
    const good = { url: url('/beside'), secret: 'beside-secret-0123456789' };
    rebindTo = [EXAMPLE_COM_ADDRESS];
    expect(await webhooks(org, 'set', { endpoints: [good, { url: url('/rebound', 'rebind.receiver.test'), secret: 'rebind-secret-0123456789' }] })).toMatchObject({ ok: true });

    rebindTo = [TRAP_HOST];
    const eventId = await lowBalance(org);
    // The event went out (the other endpoint has it), and the rebound one failed without a connection.
    await eventually(async () => verified('/beside', eventId, good.secret), (ok) => ok);
    const failed = await eventually(
      () => alertsSql<{ status: string; last_error: string }>(`select d.status, d.last_error from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id where e.org_id = $1 and e.url like '%rebind%'`, [org]),
      (r) => r.length === 1,
    );
    expect(failed[0]).toMatchObject({ status: 'failed', last_error: expect.stringContaining(`refused: 'rebind.receiver.test' resolves to ${TRAP_HOST}, a loopback address`) });
    expect(trap.hits).toEqual([]);
  });

  it('encrypts secrets left in plain text at start, re-encrypts under a new key, and refuses to start without a key in use', async () => {
    await stopAlerts();
    const org = 'ssrf-legacy';
    const legacySecret = 'legacy-secret-0123456789';
    // A row as the alert service wrote it before secrets were encrypted.
    await alertsSql(`insert into webhook_endpoints (id, org_id, url, secret, created_at) values (gen_random_uuid(), $1, $2, $3, now())`, [org, url('/legacy'), legacySecret]);

    // Rotation, step 2: the new key first (it seals), the old one still there (it opens).
    await startAlerts({ ALERTS_SECRET_KEYS: `${k2},${k1}` });
    const legacy = await stored(org);
    expect(legacy).toMatchObject([{ secret: null, secret_key_id: 'k2', secret_ciphertext: expect.stringMatching(/^v1\.k2\./) }]);
    expect(legacy[0].secret_ciphertext).not.toContain(legacySecret);
    const k1Rows = (await alertsSql<{ n: number }>(`select count(*)::int as n from webhook_endpoints where secret_key_id = 'k1'`))[0].n;
    expect(k1Rows).toBeGreaterThan(0);

    // Step 3: re-encrypt (what reencrypt-secrets.js runs); nothing is left under k1 or in plain text.
    const report = await alerts!.get(WebhookSecrets).reseal();
    expect(report).toMatchObject({ resealed: k1Rows, unreadable: 0 });
    expect(Object.keys(report.byKey)).toEqual(['k2']);
    await stopAlerts();

    // Without the key that sealed them, the service refuses to start, and says which key.
    await expect(startAlerts({ ALERTS_SECRET_KEYS: k1 })).rejects.toThrow(/sealed with key\(s\) 'k2' \(\d+ endpoints\)/);
    expect(alerts).toBeNull();

    // Step 4: the old key removed; deliveries still verify with the secret the organization gave.
    await startAlerts({ ALERTS_SECRET_KEYS: k2 });
    const eventId = await lowBalance(org);
    await eventually(async () => verified('/legacy', eventId, legacySecret), (ok) => ok);
  });
});
