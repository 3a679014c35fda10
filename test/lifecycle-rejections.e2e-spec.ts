import { createServer, Server } from 'http';
import { AddressInfo } from 'net';
import { AckPolicy, DeliverPolicy, nanos } from 'nats';
import { INestApplication } from '@nestjs/common';
import { createAlertsApp } from '../apps/alerts/src/app';
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, verifyWebhookSignature } from '../apps/alerts/src/webhook-signature';
import { LIFECYCLE_MAX_DELIVER } from '../apps/billing/src/resources/lifecycle.consumer';
import { testAlertsConfig } from './support/alerts';
import { isolatedNames, readEvents, sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { ControlPlane, eventually } from './support/lifecycle';

interface Received {
  readonly eventId: string;
  readonly type: string;
  readonly body: any;
  readonly signatureOk: boolean;
}

/** A webhook receiver that accepts everything and checks each signature. */
class Receiver {
  readonly received: Received[] = [];
  private server: Server | null = null;
  port = 0;

  constructor(private readonly secret: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async start(): Promise<void> {
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks);
      this.received.push({
        eventId: req.headers[EVENT_ID_HEADER.toLowerCase()] as string,
        type: req.headers[EVENT_TYPE_HEADER.toLowerCase()] as string,
        body: JSON.parse(raw.toString('utf8')),
        signatureOk: verifyWebhookSignature(raw, req.headers[SIGNATURE_HEADER.toLowerCase()] as string, this.secret, 60),
      });
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Lifecycle messages the engine refuses for good: recorded, counted, announced and delivered to the organization's webhooks; never dropped. */
describe('rejected lifecycle messages', () => {
  const names = isolatedNames();
  const secret = 'lifecycle-secret-0123456789';
  const receiver = new Receiver(secret);
  let engine: TestEngine;
  let alerts: INestApplication;
  let client: WalletClient;
  let plane: ControlPlane;

  const rejectedRows = (subjectLike: string) => sql<{ subject: string; event_id: string | null; reason: string }>(`select subject, event_id, reason from rejected_lifecycle_events where subject like $1 order by id`, [subjectLike]);
  const metrics = async () => (await fetch(`http://127.0.0.1:${(engine.app.getHttpServer().address() as AddressInfo).port}/metrics`)).text();
  const counted = (text: string, outcome: string) => Number(text.match(new RegExp(`^billing_lifecycle_events_total\\{outcome="${outcome}"[^}]*\\} (\\d+)$`, 'm'))?.[1] ?? 0);
  const setWebhook = async (org: string) => {
    const reply = await client.nc.request(`${names.subjectPrefix}.alerts.${org}.webhooks.set`, Buffer.from(JSON.stringify({ endpoints: [{ url: receiver.url, secret }] })), { timeout: 10_000 });
    expect(JSON.parse(Buffer.from(reply.data).toString('utf8'))).toMatchObject({ ok: true });
  };
  const consumerInfo = async (stream: string, consumer: string) => (await client.nc.jetstreamManager()).consumers.info(stream, consumer);

  beforeAll(async () => {
    engine = await startEngine({}, names);
    client = await WalletClient.connect(names.subjectPrefix);
    plane = await ControlPlane.connect(names.lifecycleSubjectPrefix);
    await receiver.start();
    alerts = await createAlertsApp(testAlertsConfig(names, { ALERTS_RETRY_BASE_MS: '50', ALERTS_RETRY_MAX_MS: '400' }), process.env.TEST_LOGS ? undefined : false);
  });

  afterAll(async () => {
    await alerts?.close();
    await receiver.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    await plane?.close();
  });

  it('creates its durable consumer with no delivery limit', async () => {
    expect((await consumerInfo(names.lifecycleStream, names.lifecycleConsumer)).config.max_deliver).toBe(LIFECYCLE_MAX_DELIVER);
    expect(LIFECYCLE_MAX_DELIVER).toBe(-1);
  });

  it('records, counts, announces and delivers to the webhook every message refused for good; one whose subject names no organization is recorded and counted only', async () => {
    const org = `lr-${names.subjectPrefix}`;
    const lp = names.lifecycleSubjectPrefix;
    await setWebhook(org);
    const before = await metrics();

    const unknownSku = await plane.publish({ orgId: org, resourceId: 'r-sku', sku: 'z999-64x' }, 'RUNNING', Date.now());
    // Published on this organization's subject, naming another one in the body.
    await plane.raw(`${lp}.${org}.r-other`, JSON.stringify({ eventId: 'e-other', orgId: 'someone-else', workspaceId: 'ws-1', resourceId: 'r-other', service: 'gpu-container', sku: 'h100-1x', storageGb: 0, status: 'RUNNING', at: new Date().toISOString() }));
    await plane.raw(`${lp}.${org}.r-json`, '{ not json');
    // No resource in the subject: the subject names no organization an event could go to.
    await plane.raw(`${lp}.${org}`, JSON.stringify({ eventId: 'e-nowhere' }));

    const rows = await eventually(() => rejectedRows(`${lp}.${org}%`), (r) => r.length >= 4);
    expect(rows.map((r) => [r.subject, r.event_id, r.reason.split(':')[0]])).toEqual(
      expect.arrayContaining([
        [`${lp}.${org}.r-sku`, unknownSku, 'UNKNOWN_SKU'],
        [`${lp}.${org}.r-other`, null, 'SUBJECT_MISMATCH'],
        [`${lp}.${org}.r-json`, null, 'MALFORMED_JSON'],
        [`${lp}.${org}`, null, 'SUBJECT_MISMATCH'],
      ]),
    );
    expect(rows).toHaveLength(4);

    // On the events stream, in the same commit as the rows: one per message its subject attributes.
    const events = await readEvents(client.nc, names.eventsStream, `${names.subjectPrefix}.events.${org}.lifecycle_rejected`, 3);
    expect(events).toHaveLength(3);
    const bySubject = new Map(events.map((e) => [e.subject, e]));
    expect(bySubject.get(`${lp}.${org}.r-sku`)).toEqual({
      eventId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      type: 'lifecycle_rejected',
      orgId: org,
      subject: `${lp}.${org}.r-sku`,
      lifecycleEventId: unknownSku,
      resourceId: 'r-sku',
      reason: expect.stringContaining('z999-64x'),
      code: 'UNKNOWN_SKU',
      at: expect.any(String),
    });
    expect(bySubject.get(`${lp}.${org}.r-other`)).toMatchObject({ orgId: org, resourceId: 'r-other', code: 'SUBJECT_MISMATCH', lifecycleEventId: null });
    expect(bySubject.get(`${lp}.${org}.r-json`)).toMatchObject({ orgId: org, resourceId: 'r-json', code: 'MALFORMED_JSON' });
    expect((await sql<{ n: number }>('select count(*)::int as n from outbox_events where subject like $1', [`${names.subjectPrefix}.events.${org}.%`]))[0].n).toBe(0);

    // The alert service delivers each one, signed, to the organization's webhook.
    const ids = events.map((e) => e.eventId as string);
    await eventually(async () => ids.every((id) => receiver.received.some((r) => r.eventId === id)), (ok) => ok);
    const delivered = receiver.received.filter((r) => ids.includes(r.eventId));
    expect(delivered).toHaveLength(3);
    expect(delivered.every((r) => r.signatureOk && r.type === 'lifecycle_rejected' && r.body.orgId === org)).toBe(true);

    const after = await metrics();
    expect(counted(after, 'rejected') - counted(before, 'rejected')).toBe(3);
    expect(counted(after, 'rejected_unattributed') - counted(before, 'rejected_unattributed')).toBe(1);
  });

  it('retries a rejection it cannot record yet (database refusing the write) until it can, then records and announces it once', async () => {
    const org = `lr-${names.subjectPrefix}-outage`;
    await setWebhook(org);
    const before = await metrics();
    await sql('alter table rejected_lifecycle_events rename to rejected_lifecycle_events_away');
    try {
      await plane.publish({ orgId: org, resourceId: 'r-1', sku: 'z999-64x' }, 'RUNNING', Date.now());
      await eventually(metrics, (text) => counted(text, 'retry') - counted(before, 'retry') >= 2, 15_000);
    } finally {
      await sql('alter table rejected_lifecycle_events_away rename to rejected_lifecycle_events');
    }
    const rows = await eventually(() => rejectedRows(`${names.lifecycleSubjectPrefix}.${org}.%`), (r) => r.length >= 1, 30_000);
    const events = await readEvents(client.nc, names.eventsStream, `${names.subjectPrefix}.events.${org}.lifecycle_rejected`, 2, 3000);
    expect({ rows: rows.length, events: events.length }).toEqual({ rows: 1, events: 1 });
    await eventually(async () => receiver.received.some((r) => r.eventId === events[0].eventId), (ok) => ok);
  });

  it('lifts the delivery limit of a consumer made before it (by an older engine or an operator)', async () => {
    const other = isolatedNames();
    const jsm = await client.nc.jetstreamManager();
    await jsm.streams.add({ name: other.lifecycleStream, subjects: [`${other.lifecycleSubjectPrefix}.>`] });
    await jsm.consumers.add(other.lifecycleStream, {
      durable_name: other.lifecycleConsumer,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(60_000),
      max_deliver: 20,
      filter_subject: `${other.lifecycleSubjectPrefix}.>`,
    });
    const second = await startEngine({}, other);
    try {
      expect((await consumerInfo(other.lifecycleStream, other.lifecycleConsumer)).config.max_deliver).toBe(-1);
    } finally {
      await second.dispose(client.nc);
    }
  });
});
