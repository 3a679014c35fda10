import { randomBytes } from 'crypto';
import { INestApplication } from '@nestjs/common';
import { consumerOpts, JsMsg, NatsConnection } from 'nats';
import { Client } from 'pg';
import { createBillingApp } from '../../apps/billing/src/app';
import { loadConfig, BillingConfig } from '../../apps/billing/src/config';
import { NatsRole } from '../../libs/messaging/src/nats-auth';
import { connectAs, roleEnv } from './nats-roles';

export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export function testDatabaseUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (its global setup makes the database)');
  return url;
}

/**
 * Subjects, streams and a bucket of its own, so tests never see each other's messages (or
 * anyone's). The durable consumers keep the shipped names (they are per stream): the NATS
 * permissions name them (config/nats/nats-server.conf).
 */
export function isolatedNames() {
  const tag = randomBytes(4).toString('hex');
  return {
    subjectPrefix: `t${tag}`,
    eventsStream: `T_${tag}_EVENTS`,
    controlStream: `T_${tag}_CONTROL`,
    lifecycleStream: `T_${tag}_LIFECYCLE`,
    lifecycleSubjectPrefix: `t${tag}.lifecycle`,
    lifecycleConsumer: 'billing-engine',
    ownersBucket: `T_${tag}_OWNERS`,
  };
}
export type TestNames = ReturnType<typeof isolatedNames>;

export interface TestEngine {
  readonly app: INestApplication;
  readonly config: BillingConfig;
  stop(): Promise<void>;
  /** Stops the engine and deletes its streams. */
  dispose(nc: NatsConnection): Promise<void>;
}

/** The HEALTH_DETAILS_TOKEN of every test process: /health/details answers only its bearer. */
export const TEST_HEALTH_DETAILS_TOKEN = 'test-health-details-0123456789abcdef';

/** The settings of an engine for one test: its own database, subjects, streams and queue group. */
export function engineEnv(names: TestNames, env: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: testDatabaseUrl(),
    NATS_URL,
    SUBJECT_PREFIX: names.subjectPrefix,
    EVENTS_STREAM: names.eventsStream,
    CONTROL_STREAM: names.controlStream,
    LIFECYCLE_STREAM: names.lifecycleStream,
    LIFECYCLE_SUBJECT_PREFIX: names.lifecycleSubjectPrefix,
    LIFECYCLE_CONSUMER: names.lifecycleConsumer,
    OWNERS_BUCKET: names.ownersBucket,
    BILLING_HTTP_PORT: '0',
    HEALTH_DETAILS_TOKEN: TEST_HEALTH_DETAILS_TOKEN,
    QUEUE_GROUP: `q-${names.subjectPrefix}-${randomBytes(2).toString('hex')}`,
    // The engine connects as the NATS user `billing`.
    ...roleEnv('billing'),
    ...env,
  };
}

export async function startEngine(env: Record<string, string> = {}, names = isolatedNames()): Promise<TestEngine> {
  const config = loadConfig({ ...process.env, ...engineEnv(names, env) });
  // TEST_LOGS=1 shows the engine's own logs while debugging a test.
  const app = await createBillingApp(config, process.env.TEST_LOGS ? undefined : false);
  return {
    app,
    config,
    stop: () => app.close(),
    dispose: async (nc) => {
      await app.close();
      await deleteStream(nc, config.eventsStream);
      await deleteStream(nc, config.controlStream);
      await deleteStream(nc, config.lifecycleStream);
      await deleteStream(nc, `KV_${config.ownersBucket}`);
    },
  };
}

/**
 * A plain NATS client, as an operator's tool or a Go program would use. By default it connects
 * as `operator` (every wallet command but the gateway's `payment.*`, the admin commands, the
 * streams); a test playing another role says so.
 */
export class WalletClient {
  private constructor(readonly nc: NatsConnection, readonly prefix: string) {}

  static async connect(prefix: string, role: NatsRole = 'operator'): Promise<WalletClient> {
    return new WalletClient(await connectAs(role, { url: NATS_URL }), prefix);
  }

  async raw(orgId: string, command: string, body: Uint8Array | string): Promise<any> {
    const msg = await this.nc.request(`${this.prefix}.wallet.${orgId}.${command}`, typeof body === 'string' ? Buffer.from(body) : body, { timeout: 20_000 });
    return JSON.parse(Buffer.from(msg.data).toString('utf8'));
  }

  request(orgId: string, command: string, body?: object): Promise<any> {
    return this.raw(orgId, command, body === undefined ? '' : JSON.stringify(body));
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

/** Reads the engine's events from its JetStream stream. */
export async function readEvents(nc: NatsConnection, stream: string, subject: string, count: number, timeoutMs = 10_000): Promise<any[]> {
  const js = nc.jetstream();
  const opts = consumerOpts();
  opts.orderedConsumer();
  const sub = await js.subscribe(subject, opts);
  const out: any[] = [];
  const timer = setTimeout(() => sub.unsubscribe(), timeoutMs);
  for await (const m of sub as AsyncIterable<JsMsg>) {
    out.push(JSON.parse(Buffer.from(m.data).toString('utf8')));
    if (out.length >= count) break;
  }
  clearTimeout(timer);
  sub.unsubscribe();
  void stream;
  return out;
}

export async function deleteStream(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(stream).catch(() => undefined);
}

/**
 * A database of its own for a test that must not meet the other tests' rows (the run's database
 * is shared by every test file): created next to the run's, dropped by `drop`.
 */
export async function ownDatabase(label: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = new URL(testDatabaseUrl());
  admin.pathname = '/postgres';
  const name = `${process.env.TEST_DATABASE_NAME ?? 'billing_test'}_${label}_${randomBytes(3).toString('hex')}`;
  await sql(`create database "${name}"`, [], admin.toString());
  const url = new URL(testDatabaseUrl());
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => sql(`drop database if exists "${name}" with (force)`, [], admin.toString()).then(() => undefined) };
}

/** Direct SQL for checks, the way an auditor would look at the ledger (`databaseUrl`: a test's own server). */
export async function sql<T = any>(text: string, params: unknown[] = [], databaseUrl = testDatabaseUrl()): Promise<T[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** sum(ledger) == sum(grant remaining) == wallet total, for one organization. */
export async function ledgerTotals(orgId: string): Promise<{ ledger: string; grants: string; wallet: string | null; entries: number }> {
  const [row] = await sql(
    `select (select coalesce(sum(amount), 0)::text from ledger_entries where org_id = $1) as ledger,
            (select coalesce(sum(remaining), 0)::text from grants where org_id = $1) as grants,
            (select total::text from wallets where org_id = $1) as wallet,
            (select count(*)::int from ledger_entries where org_id = $1) as entries`,
    [orgId],
  );
  return row;
}
