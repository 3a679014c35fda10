import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { NatsConnection } from 'nats';
import { INestApplication } from '@nestjs/common';
import { AlertsConfig } from '../apps/alerts/src/alerts.config';
import { testAlertsConfig, testResolver } from './support/alerts';
import { createAlertsApp } from '../apps/alerts/src/app';
import { ALERTS_NATS } from '../apps/alerts/src/tokens';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, verifyWebhookSignature } from '../apps/alerts/src/webhook-signature';
import { isolatedNames, readEvents, sql, startEngine, TEST_HEALTH_DETAILS_TOKEN, TestEngine, WalletClient } from './support/engine';
import { eventually } from './support/lifecycle';

interface Received {
  readonly path: string;
  readonly eventId: string;
  readonly type: string;
  readonly signatureOk: boolean;
  readonly bodyMatchesHeader: boolean;
  /** What the receiver answered (0: nothing): only a 2xx counts as delivered. */
  readonly status: number;
}

/** A webhook receiver on 127.0.0.1: each path has its secret and may fail its next N requests with HTTP 500. */
class Receiver {
  readonly received: Received[] = [];
  private readonly failNext = new Map<string, number>();
  private readonly hangNext = new Map<string, number>();
  /** Requests held without an answer, as a receiver that is slow when the sender dies. */
  private readonly hung: ServerResponse[] = [];
  private server: Server | null = null;
  port = 0;

  constructor(private readonly secrets: Record<string, string>) {}

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  failNextRequests(path: string, count: number): void {
    this.failNext.set(path, count);
  }

  holdNextRequests(path: string, count: number): void {
    this.hangNext.set(path, count);
  }

  get held(): number {
    return this.hung.length;
  }

  /** Drops the held requests' connections: their sender never gets an answer. */
  dropHeld(): void {
    for (const res of this.hung.splice(0)) res.socket?.destroy();
  }

  /** Listens on the port it had before, if it had one, so configured URLs stay valid across a restart. */
  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** 2xx answers per event id at one path. */
  acknowledged(path: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.received) if (r.path === path && r.status >= 200 && r.status < 300) counts.set(r.eventId, (counts.get(r.eventId) ?? 0) + 1);
    return counts;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const path = req.url ?? '';
    const header = req.headers[SIGNATURE_HEADER.toLowerCase()] as string | undefined;
    const eventId = req.headers[EVENT_ID_HEADER.toLowerCase()] as string;
    const body = JSON.parse(raw.toString('utf8'));
    const record = (status: number) =>
      this.received.push({ path, eventId, type: body.type, signatureOk: verifyWebhookSignature(raw, header, this.secrets[path], 60), bodyMatchesHeader: body.eventId === eventId, status });
    const hold = this.hangNext.get(path) ?? 0;
    if (hold > 0) {
      this.hangNext.set(path, hold - 1);
      record(0);
      this.hung.push(res);
      return;
    }
    const fail = this.failNext.get(path) ?? 0;
    if (fail > 0) this.failNext.set(path, fail - 1);
    const status = fail > 0 ? 500 : 204;
    record(status);
    res.writeHead(status).end();
  }
}

/** The alert service (apps/alerts) against the real billing engine, PostgreSQL, NATS and an HTTP receiver. */
describe('alert delivery with a failing then recovering receiver', () => {
  const names = isolatedNames();
  const secrets = { '/flaky': 'flaky-secret-0123456789', '/steady': 'steady-secret-0123456789', '/ops': 'ops-secret-0123456789' };
  const receiver = new Receiver(secrets);
  let alertsConfig: AlertsConfig;
  let engine: TestEngine;
  let client: WalletClient;
  let alerts: INestApplication | null = null;
  let key = 0;

  const startAlerts = async () => {
    alerts = await createAlertsApp(alertsConfig, process.env.TEST_LOGS ? undefined : false, { resolve: testResolver() });
  };
  const stopAlerts = async () => {
    await alerts?.close();
    alerts = null;
  };
  /** As if the process died: its NATS connection goes without acknowledging anything, then the rest is torn down. */
  const killAlerts = async () => {
    await alerts!.get<NatsConnection>(ALERTS_NATS).close();
    receiver.dropHeld();
    await stopAlerts();
  };
  const webhooks = async (org: string, command: 'set' | 'get', body?: object) => {
    const msg = await client.nc.request(`${names.subjectPrefix}.alerts.${org}.webhooks.${command}`, Buffer.from(body ? JSON.stringify(body) : ''), { timeout: 10_000 });
    return JSON.parse(Buffer.from(msg.data).toString('utf8'));
  };
  const wallet = async (org: string, command: string, body: object) => {
    const reply = await client.request(org, command, body);
    expect(reply).toMatchObject({ ok: true });
    return reply;
  };
  const topup = (org: string, amount: string) => wallet(org, 'topup', { idempotencyKey: `t-${++key}`, amount, currency: 'USD', provider: 'stripe', reference: `pi_${key}` });
  const debit = (org: string, amount: string) => wallet(org, 'debit', { idempotencyKey: `d-${++key}`, amount, service: 'gpu-container', workspaceId: 'ws-1' });
  /** The ids of the org's alert events in the stream, in publication order. */
  const alertIds = async (org: string, type: string, count: number) =>
    (await readEvents(client.nc, names.eventsStream, `${names.subjectPrefix}.events.${org}.${type}`, count)).map((e) => e.eventId as string);
  const deliveredEverywhere = (ids: readonly string[]) => () =>
    Promise.resolve(ids.every((id) => receiver.acknowledged('/flaky').has(id) && receiver.acknowledged('/steady').has(id)));

  beforeAll(async () => {
    alertsConfig = testAlertsConfig(names, {
      // Retries in tens of milliseconds, and a crash redelivered within seconds, so the test is quick.
      ALERTS_RETRY_BASE_MS: '50',
      ALERTS_RETRY_MAX_MS: '400',
      ALERTS_ACK_WAIT_MS: '2000',
      ALERTS_REQUEST_TIMEOUT_MS: '2000',
    });
    engine = await startEngine({}, names);
    client = await WalletClient.connect(names.subjectPrefix);
    await receiver.start();
    await startAlerts();
  });

  afterAll(async () => {
    await stopAlerts();
    await receiver.stop();
    await engine?.dispose(client.nc);
    await client?.close();
  });

  it('refuses endpoints it cannot deliver to or sign with, and never shows a secret', async () => {
    const org = 'alerts-config';
    expect(await webhooks(org, 'set', { endpoints: [{ url: 'ftp://example.com/hook', secret: 'x'.repeat(16) }] })).toMatchObject({ ok: false, error: { code: 'INVALID_FIELD' } });
    expect(await webhooks(org, 'set', { endpoints: [{ url: 'https://example.com/hook', secret: 'short' }] })).toMatchObject({ ok: false, error: { code: 'INVALID_FIELD' } });
    const eleven = Array.from({ length: 11 }, (_, i) => ({ url: `https://example.com/${i}`, secret: 'x'.repeat(16) }));
    expect(await webhooks(org, 'set', { endpoints: eleven })).toMatchObject({ ok: false, error: { code: 'INVALID_FIELD' } });
    expect((await webhooks(org, 'get')).endpoints).toEqual([]);

    const set = await webhooks(org, 'set', { endpoints: [{ url: 'https://example.com/a', secret: 'a'.repeat(16) }, { url: 'https://example.com/b', secret: 'b'.repeat(16) }] });
    expect(set.ok).toBe(true);
    const idOfA = set.endpoints.find((e: any) => e.url === 'https://example.com/a').id;
    // Replacing the list keeps an endpoint that stays (its id, so its delivery records) and drops the others.
    const replaced = await webhooks(org, 'set', { endpoints: [{ url: 'https://example.com/a', secret: 'c'.repeat(16) }] });
    expect(replaced.endpoints).toEqual([{ id: idOfA, url: 'https://example.com/a', createdAt: expect.any(String) }]);
    expect(JSON.stringify(await webhooks(org, 'get'))).not.toContain('c'.repeat(16));
  });

  it('delivers every alert signed, retries a failing receiver, loses nothing while the service or the receiver is down or the service dies, and delivers each event once per endpoint', async () => {
    const org = 'alerts-org';
    const configured = await webhooks(org, 'set', { endpoints: [{ url: receiver.url('/flaky'), secret: secrets['/flaky'] }, { url: receiver.url('/steady'), secret: secrets['/steady'] }] });
    expect(configured).toMatchObject({ ok: true });
    expect(configured.endpoints).toHaveLength(2);

    // 1. The receiver fails its first requests, then recovers.
    receiver.failNextRequests('/flaky', 4);
    await topup(org, '100');
    await wallet(org, 'alerts.set', { lowBalance: ['50', '10'] });
    await debit(org, '60'); // 100 -> 40: low_balance 50
    await debit(org, '35'); // 40 -> 5: low_balance 10
    await debit(org, '5'); // 5 -> 0: depleted
    const first = [...(await alertIds(org, 'low_balance', 2)), ...(await alertIds(org, 'depleted', 1))];
    expect(new Set(first).size).toBe(3);
    await eventually(deliveredEverywhere(first), (ok) => ok);

    // 2. The alert service is down while events happen; it delivers them when it is back.
    await stopAlerts();
    receiver.failNextRequests('/flaky', 2);
    await topup(org, '100'); // 0 -> 100: thresholds re-armed
    await debit(org, '60'); // 100 -> 40: low_balance 50
    const second = (await alertIds(org, 'low_balance', 3)).filter((id) => !first.includes(id));
    expect(second).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.some((r) => second.includes(r.eventId))).toBe(false);
    await startAlerts();
    await eventually(deliveredEverywhere(second), (ok) => ok);

    // 3. The receiver is down, then the alert service stops with retries pending; both come back.
    await receiver.stop();
    await debit(org, '35'); // 40 -> 5: low_balance 10
    await debit(org, '10'); // 5 -> -5: depleted
    const seen = [...first, ...second];
    const third = [...(await alertIds(org, 'low_balance', 4)), ...(await alertIds(org, 'depleted', 2))].filter((id) => !seen.includes(id));
    expect(third).toHaveLength(2);
    await eventually(
      async () => (await sql(`select count(*)::int as n from webhook_deliveries where event_id = any($1::uuid[]) and status = 'failed'`, [third]))[0].n,
      (n) => n === 4,
    );
    await stopAlerts();
    await receiver.start();
    await startAlerts();
    await eventually(deliveredEverywhere(third), (ok) => ok);

    // 4. The alert service dies in the middle of a request: the event is redelivered to the next
    //    process after the ack wait, which sends it only where it was not delivered yet.
    receiver.holdNextRequests('/flaky', 1);
    await topup(org, '100'); // -5 -> 95: thresholds re-armed
    await debit(org, '50'); // 95 -> 45: low_balance 50
    const before = [...seen, ...third];
    const fourth = (await alertIds(org, 'low_balance', 5)).filter((id) => !before.includes(id));
    expect(fourth).toHaveLength(1);
    await eventually(async () => receiver.held === 1 && receiver.acknowledged('/steady').has(fourth[0]), (ok) => ok);
    await killAlerts();
    await startAlerts();
    await eventually(deliveredEverywhere(fourth), (ok) => ok);

    // Settle: any redelivery still under way would show up as a second 2xx.
    await new Promise((r) => setTimeout(r, 1000));
    const all = [...before, ...fourth];
    for (const path of ['/flaky', '/steady']) {
      const acks = receiver.acknowledged(path);
      expect([...acks.keys()].sort()).toEqual([...all].sort());
      expect([...acks.values()].every((n) => n === 1)).toBe(true);
    }
    // The steady endpoint never failed, so it never saw an event twice while the flaky one was retried.
    expect(receiver.received.filter((r) => r.path === '/steady')).toHaveLength(all.length);
    expect(receiver.received.filter((r) => r.path === '/flaky' && r.status === 500)).toHaveLength(6);
    expect(receiver.received.every((r) => r.signatureOk && r.bodyMatchesHeader)).toBe(true);
    expect(new Set(receiver.received.map((r) => r.type))).toEqual(new Set(['low_balance', 'depleted']));

    const rows = await sql(`select d.status, d.attempts, d.delivered_at from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id where e.org_id = $1`, [org]);
    expect(rows).toHaveLength(all.length * 2);
    expect(rows.every((r) => r.status === 'delivered' && r.delivered_at !== null && r.attempts >= 1)).toBe(true);
  });

  it('reports its health with PostgreSQL and NATS up, and counts the webhooks it delivered in its metrics', async () => {
    if (!alerts) await startAlerts();
    const url = `http://127.0.0.1:${(alerts!.getHttpServer().address() as AddressInfo).port}`;
    // The public answer says up and nothing more; the details go to the HEALTH_DETAILS_TOKEN bearer.
    const health = await fetch(`${url}/health`);
    expect({ status: health.status, body: await health.json() }).toEqual({ status: 200, body: { status: 'up' } });
    expect((await fetch(`${url}/health/details`)).status).toBe(401);
    const details = await fetch(`${url}/health/details`, { headers: { authorization: `Bearer ${TEST_HEALTH_DETAILS_TOKEN}` } });
    expect(details.status).toBe(200);
    expect(await details.json()).toMatchObject({ status: 'ok', info: { postgres: { status: 'up' }, nats: { status: 'up' } } });

    const org = 'alerts-ops';
    expect(await webhooks(org, 'set', { endpoints: [{ url: receiver.url('/ops'), secret: secrets['/ops'] }] })).toMatchObject({ ok: true });
    await topup(org, '100');
    await wallet(org, 'alerts.set', { lowBalance: ['50'] });
    await debit(org, '60'); // 100 -> 40: low_balance 50
    const [eventId] = await alertIds(org, 'low_balance', 1);
    await eventually(async () => receiver.acknowledged('/ops').has(eventId), (ok) => ok);

    // The counter moves once the answer is back at the service, just after the receiver saw the request.
    const metric = (text: string, pattern: RegExp) => Number(text.match(pattern)?.[1] ?? NaN);
    const metrics = await eventually(
      async () => {
        const res = await fetch(`${url}/metrics`);
        expect(res.status).toBe(200);
        return res.text();
      },
      (text) => metric(text, /^alerts_webhook_requests_total\{outcome="delivered",service="alerts"\} (\d+)$/m) >= 1,
    );
    expect(metric(metrics, /^alerts_webhook_request_seconds_count\{service="alerts"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(metric(metrics, /^alerts_events_consumed_total\{outcome="done",service="alerts"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^alerts_consumer_unacknowledged\{service="alerts"\} \d+$/m);
    expect(metrics).toMatch(/^alerts_events_in_flight\{service="alerts"\} \d+$/m);
  });
});
