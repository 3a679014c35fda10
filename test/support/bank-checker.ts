import { readFileSync } from 'fs';
import path from 'path';
import Decimal from 'decimal.js';
import { NatsConnection } from 'nats';
import { GpuResource } from '@billing/domain';
import { sql, testDatabaseUrl } from './engine';

/**
 * A Jepsen-style bank checker: what the load generator knows it sent and was told, against what
 * the ledger and the event stream hold afterwards. Pure functions of those two records (plus the
 * reads that gather them), returning every violation found rather than stopping at the first.
 */

/** Exact arithmetic of its own, so the expectation does not share the engine's code. */
const D = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_EVEN });
type D = InstanceType<typeof D>;
const MS_PER_HOUR = 3_600_000;
const LEDGER_DECIMALS = 8;

// ---- the load generator's record -------------------------------------------------------------

export type WalletOutcome =
  | { readonly kind: 'ok'; readonly entry: { readonly id: string; readonly seq: number; readonly amount: string } }
  /** A definitive refusal: nothing was recorded, the key stays free. */
  | { readonly kind: 'refused'; readonly code: string }
  /** No reply (timeout, lost to a kill) or a reply saying nothing is confirmed (UNAVAILABLE, ...). */
  | { readonly kind: 'unknown' };

export interface Attempt {
  readonly sentAtMs: number;
  answeredAtMs: number | null;
  /** 'ok', an error code, or 'timeout'. */
  result: string;
  /** The error's message, when the engine answered one. */
  message?: string;
}

export interface RecordedRequest {
  readonly orgId: string;
  readonly command: 'topup' | 'debit';
  readonly idempotencyKey: string;
  /** The exact payload, sent again as is on every retry. */
  readonly body: { readonly amount: string } & Record<string, unknown>;
  outcome: WalletOutcome;
  readonly attempts: Attempt[];
}

export type ResourceSpec = GpuResource;

export interface PublishedEvent {
  readonly eventId: string;
  readonly status: 'RUNNING' | 'STOPPED' | 'DELETED';
  readonly atMs: number;
  /** JetStream acknowledged it (after as many retries as it took). */
  confirmed: boolean;
}

export interface LoadRecord {
  readonly currency: string;
  readonly orgs: readonly string[];
  readonly requests: readonly RecordedRequest[];
  readonly resources: ReadonlyMap<string, { readonly spec: ResourceSpec; readonly events: readonly PublishedEvent[] }>;
}

/** Error codes that confirm nothing: the client must retry with the same key. */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(['UNAVAILABLE', 'INTERNAL', 'CONFLICT', 'MAILBOX_FULL']);

// ---- the expectation for resources, computed from the events the test published --------------

export interface PriceCatalogFile {
  readonly gpu: Record<string, Record<string, string>>;
  readonly storagePerGbHour: Record<string, string>;
}

export function readPriceCatalog(file = path.join(__dirname, '..', '..', 'config', 'price-catalog.json')): PriceCatalogFile {
  return JSON.parse(readFileSync(file, 'utf8')) as PriceCatalogFile;
}

const RANK: Record<string, number> = { PENDING: 0, RUNNING: 1, STOPPING: 2, STOPPED: 3, FAILED: 4, DELETED: 5 };

/**
 * What a deleted resource owes in all (README "Resources"): each GPU run, RUNNING to the first
 * stop, `rate x duration` rounded once (half-even, 8 decimals); storage from the first RUNNING
 * to DELETED, also while stopped, rounded once.
 */
export function expectedResourceCharge(spec: ResourceSpec, events: readonly PublishedEvent[], catalog: PriceCatalogFile, currency: string): D {
  const sorted = [...events].sort((a, b) => a.atMs - b.atMs || RANK[a.status] - RANK[b.status] || (a.eventId < b.eventId ? -1 : 1));
  const deletedAt = sorted.find((e) => e.status === 'DELETED')?.atMs;
  if (deletedAt === undefined) throw new Error(`resource ${spec.resourceId} was never deleted: its total is not final`);
  const rate = new D(catalog.gpu[spec.sku][currency]);
  let total = new D(0);
  let runStart: number | null = null;
  let firstRunning: number | null = null;
  for (const e of sorted) {
    if (e.atMs > deletedAt) break;
    if (e.status === 'RUNNING') {
      runStart ??= e.atMs;
      firstRunning ??= e.atMs;
    } else if (runStart !== null) {
      total = total.plus(rate.times(e.atMs - runStart).dividedBy(MS_PER_HOUR).toDecimalPlaces(LEDGER_DECIMALS, Decimal.ROUND_HALF_EVEN));
      runStart = null;
    }
    if (e.status === 'DELETED') break;
  }
  if (firstRunning !== null && spec.storageGb > 0) {
    const storage = new D(catalog.storagePerGbHour[currency]).times(spec.storageGb).times(deletedAt - firstRunning).dividedBy(MS_PER_HOUR);
    total = total.plus(storage.toDecimalPlaces(LEDGER_DECIMALS, Decimal.ROUND_HALF_EVEN));
  }
  return total;
}

// ---- what the engine left behind --------------------------------------------------------------

export interface LedgerRow {
  readonly orgId: string;
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly amount: string;
  readonly idempotencyKey: string;
  readonly resourceId: string | null;
  readonly createdAtMs: number;
}

export interface StoreState {
  readonly ledger: readonly LedgerRow[];
  readonly grantsRemaining: ReadonlyMap<string, string>;
  readonly wallets: ReadonlyMap<string, { readonly total: string; readonly seq: number }>;
  /** sum(meters.charged) per `orgId/resourceId`. */
  readonly meterCharged: ReadonlyMap<string, string>;
  /** Stored lifecycle event ids per `orgId/resourceId`. */
  readonly storedEvents: ReadonlyMap<string, readonly string[]>;
  readonly deleted: ReadonlySet<string>;
  readonly outboxPending: number;
}

export interface StreamEvent {
  readonly subject: string;
  readonly body: { readonly eventId: string; readonly type: string; readonly orgId: string; readonly seq?: number } & Record<string, unknown>;
}

export async function readStore(orgs: readonly string[], databaseUrl = testDatabaseUrl()): Promise<StoreState> {
  const ledger = await sql<{ org_id: string; seq: string; id: string; type: string; amount: string; idempotency_key: string; resource_id: string | null; created_at: Date }>(
    `select org_id, seq::text, id, type, amount::text, idempotency_key, resource_id, created_at from ledger_entries l where org_id = any($1) order by l.org_id, l.seq`,
    [orgs],
    databaseUrl,
  );
  const grants = await sql<{ org_id: string; remaining: string }>(`select org_id, coalesce(sum(remaining), 0)::text as remaining from grants where org_id = any($1) group by org_id`, [orgs], databaseUrl);
  const wallets = await sql<{ org_id: string; total: string; seq: string }>(`select org_id, total::text, seq::text from wallets where org_id = any($1)`, [orgs], databaseUrl);
  const meters = await sql<{ org_id: string; resource_id: string; charged: string }>(
    `select org_id, resource_id, sum(charged)::text as charged from meters where org_id = any($1) group by org_id, resource_id`,
    [orgs],
    databaseUrl,
  );
  const resources = await sql<{ org_id: string; resource_id: string; ids: string[]; deleted: boolean }>(
    `select org_id, resource_id, deleted, array(select e->>'eventId' from jsonb_array_elements(events) e) as ids from resources where org_id = any($1)`,
    [orgs],
    databaseUrl,
  );
  return {
    ledger: ledger.map((r) => ({ orgId: r.org_id, seq: Number(r.seq), id: r.id, type: r.type, amount: r.amount, idempotencyKey: r.idempotency_key, resourceId: r.resource_id, createdAtMs: new Date(r.created_at).getTime() })),
    grantsRemaining: new Map(grants.map((g) => [g.org_id, g.remaining])),
    wallets: new Map(wallets.map((w) => [w.org_id, { total: w.total, seq: Number(w.seq) }])),
    meterCharged: new Map(meters.map((m) => [`${m.org_id}/${m.resource_id}`, m.charged])),
    storedEvents: new Map(resources.map((r) => [`${r.org_id}/${r.resource_id}`, r.ids])),
    deleted: new Set(resources.filter((r) => r.deleted).map((r) => `${r.org_id}/${r.resource_id}`)),
    outboxPending: await outboxPendingFor(orgs, databaseUrl),
  };
}

/** Outbox rows of these organizations not yet published (the subject carries the orgId). */
export async function outboxPendingFor(orgs: readonly string[], databaseUrl = testDatabaseUrl()): Promise<number> {
  const [row] = await sql<{ n: number }>(`select count(*)::int as n from outbox_events where split_part(subject, '.', 3) = any($1)`, [orgs], databaseUrl);
  return row.n;
}

/** Every message of the events stream, in stream order (an ordered consumer, from the start). */
export async function readEventStream(nc: NatsConnection, stream: string): Promise<StreamEvent[]> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream);
  const expected = info.state.messages;
  const out: StreamEvent[] = [];
  if (expected === 0) return out;
  // An ordered consumer of the whole stream (its subjects are the durable event types).
  const messages = await (await nc.jetstream().consumers.get(stream)).consume();
  const timer = setTimeout(() => messages.stop(), 30_000);
  for await (const m of messages) {
    out.push({ subject: m.subject, body: JSON.parse(Buffer.from(m.data).toString('utf8')) });
    if (m.info.pending === 0 && out.length >= expected) break;
  }
  clearTimeout(timer);
  await messages.close();
  if (out.length < expected) throw new Error(`read ${out.length} of the ${expected} messages of stream ${stream}`);
  return out;
}

// ---- the checks ----------------------------------------------------------------------------------

export interface CheckReport {
  readonly violations: string[];
  readonly stats: Record<string, number>;
}

/**
 * The bank checks. `catalog` prices the resources; `stream` is every event the engine published
 * for these organizations.
 */
export function checkBank(record: LoadRecord, store: StoreState, stream: readonly StreamEvent[], catalog: PriceCatalogFile): CheckReport {
  const violations: string[] = [];
  const v = (s: string) => {
    if (violations.length < 200) violations.push(s);
  };
  const stats: Record<string, number> = { requests: record.requests.length, acknowledged: 0, refused: 0, unknownAtEnd: 0, retried: 0, ledgerEntries: store.ledger.length, meterEntries: 0, events: stream.length, resources: record.resources.size, lifecycleEvents: 0 };

  const byKey = new Map<string, LedgerRow[]>();
  for (const e of store.ledger) {
    const k = `${e.orgId}|${e.idempotencyKey}`;
    byKey.set(k, [...(byKey.get(k) ?? []), e]);
  }
  for (const [k, rows] of byKey) if (rows.length > 1) v(`key ${k} is in the ledger ${rows.length} times`);

  // 1. Acknowledged credits and charges: in the ledger exactly once, as acknowledged, with the amount asked.
  const clientKeys = new Set<string>();
  for (const r of record.requests) {
    const k = `${r.orgId}|${r.idempotencyKey}`;
    clientKeys.add(k);
    if (r.attempts.length > 1) stats.retried++;
    const rows = byKey.get(k) ?? [];
    const sign = r.command === 'topup' ? 1 : -1;
    const asked = new D(r.body.amount).times(sign);
    if (r.outcome.kind === 'ok') {
      stats.acknowledged++;
      if (rows.length !== 1) {
        v(`acknowledged ${r.command} ${k} is in the ledger ${rows.length} times`);
        continue;
      }
      const row = rows[0];
      if (row.type !== r.command) v(`acknowledged ${r.command} ${k} is a '${row.type}' entry`);
      if (!new D(row.amount).equals(asked)) v(`acknowledged ${r.command} ${k}: ledger amount ${row.amount}, asked ${asked.toFixed()}`);
      if (row.id !== r.outcome.entry.id || row.seq !== r.outcome.entry.seq) v(`acknowledged ${k}: reply said entry ${r.outcome.entry.id} seq ${r.outcome.entry.seq}, ledger has ${row.id} seq ${row.seq}`);
      if (!new D(r.outcome.entry.amount).equals(asked)) v(`acknowledged ${k}: reply amount ${r.outcome.entry.amount}, asked ${asked.toFixed()}`);
    } else if (r.outcome.kind === 'refused') {
      stats.refused++;
      if (rows.length > 0) v(`refused ${r.command} ${k} (${r.outcome.code}) is in the ledger`);
    } else {
      stats.unknownAtEnd++;
      if (rows.length > 1) v(`unknown-outcome ${r.command} ${k} is in the ledger ${rows.length} times`);
      if (rows.length === 1 && !new D(rows[0].amount).equals(asked)) v(`unknown-outcome ${k}: ledger amount ${rows[0].amount}, asked ${asked.toFixed()}`);
    }
  }

  // 2. Nothing invented: every entry is one of ours or a meter entry of one of our resources.
  for (const e of store.ledger) {
    const k = `${e.orgId}|${e.idempotencyKey}`;
    if (e.idempotencyKey.startsWith('meter:')) {
      stats.meterEntries++;
      if (e.type !== 'debit' && e.type !== 'correction') v(`meter entry ${k} has type ${e.type}`);
      if (!e.resourceId || !record.resources.has(`${e.orgId}/${e.resourceId}`)) v(`meter entry ${k} is for an unknown resource ${e.resourceId}`);
    } else if (!clientKeys.has(k)) v(`ledger entry ${k} (${e.type} ${e.amount}) matches no request the load generator sent`);
  }

  // 3. Per organization: gapless seq, sum(ledger) == sum(grants) == wallet total, and the money adds up.
  const ledgerByOrg = new Map<string, LedgerRow[]>();
  for (const e of store.ledger) ledgerByOrg.set(e.orgId, [...(ledgerByOrg.get(e.orgId) ?? []), e]);
  for (const orgId of record.orgs) {
    const entries = ledgerByOrg.get(orgId) ?? [];
    entries.forEach((e, i) => {
      if (e.seq !== i + 1) v(`${orgId}: ledger seq ${e.seq} at position ${i + 1} (not gapless from 1)`);
    });
    const ledgerSum = entries.reduce((s, e) => s.plus(e.amount), new D(0));
    const grants = new D(store.grantsRemaining.get(orgId) ?? '0');
    const wallet = store.wallets.get(orgId);
    if (!wallet) {
      if (entries.length > 0) v(`${orgId}: ledger entries but no wallet row`);
      continue;
    }
    if (!ledgerSum.equals(grants) || !ledgerSum.equals(wallet.total)) v(`${orgId}: sum(ledger) ${ledgerSum.toFixed()}, sum(grants.remaining) ${grants.toFixed()}, wallet total ${wallet.total}`);
    if (wallet.seq !== entries.length) v(`${orgId}: wallet seq ${wallet.seq}, ledger has ${entries.length} entries`);
    // From the generator's side: credits acknowledged less charges acknowledged less resource charges.
    let own = new D(0);
    for (const r of record.requests) {
      if (r.orgId !== orgId || r.outcome.kind !== 'ok') continue;
      own = own.plus(new D(r.body.amount).times(r.command === 'topup' ? 1 : -1));
    }
    const metered = entries.filter((e) => e.idempotencyKey.startsWith('meter:')).reduce((s, e) => s.plus(e.amount), new D(0));
    if (stats.unknownAtEnd === 0 && !own.plus(metered).equals(ledgerSum)) v(`${orgId}: acknowledged requests ${own.toFixed()} + meter entries ${metered.toFixed()} != ledger ${ledgerSum.toFixed()}`);
  }

  // 4. Resources: every published event stored once, deleted, charged exactly rate x duration.
  for (const [key, { spec, events }] of record.resources) {
    stats.lifecycleEvents += events.length;
    const stored = store.storedEvents.get(key) ?? [];
    const storedSet = new Set(stored);
    if (storedSet.size !== stored.length) v(`resource ${key}: an event is stored twice`);
    for (const e of events) {
      if (!e.confirmed) v(`resource ${key}: event ${e.eventId} (${e.status}) was never confirmed by JetStream`);
      else if (!storedSet.has(e.eventId)) v(`resource ${key}: event ${e.eventId} (${e.status}) is not stored`);
    }
    if (stored.length !== events.length) v(`resource ${key}: ${stored.length} events stored, ${events.length} published`);
    if (!store.deleted.has(key)) v(`resource ${key} is not deleted in the store`);
    let expected: D;
    try {
      expected = expectedResourceCharge(spec, events, catalog, record.currency);
    } catch (error) {
      v(String((error as Error).message));
      continue;
    }
    const charged = store.ledger
      .filter((e) => `${e.orgId}/${e.resourceId}` === key && e.idempotencyKey.startsWith('meter:'))
      .reduce((s, e) => s.minus(e.amount), new D(0));
    if (!charged.equals(expected)) v(`resource ${key}: charged ${charged.toFixed()} in the ledger, expected ${expected.toFixed()} (difference ${charged.minus(expected).toFixed()})`);
    const meters = new D(store.meterCharged.get(key) ?? '0');
    if (!meters.equals(charged)) v(`resource ${key}: meters say ${meters.toFixed()}, ledger ${charged.toFixed()}`);
  }

  // 5. Events: the durable ones each published once; balances are live pushes, never in the stream;
  // each wallet's batches decided at later and later instants (the ledger's times never go back).
  if (store.outboxPending !== 0) v(`${store.outboxPending} events are still in the outbox`);
  const ids = new Map<string, number>();
  for (const e of stream) ids.set(e.body.eventId, (ids.get(e.body.eventId) ?? 0) + 1);
  for (const [id, n] of ids) if (n > 1) v(`event ${id} is in the stream ${n} times`);
  const balances = stream.filter((e) => e.body.type === 'balance').length;
  if (balances > 0) v(`${balances} balance events in the stream (they are live pushes only)`);
  for (const orgId of record.orgs) {
    const entries = ledgerByOrg.get(orgId) ?? [];
    for (let i = 1; i < entries.length; i++) {
      if (entries[i].createdAtMs < entries[i - 1].createdAtMs) v(`${orgId}: entry ${entries[i].seq} is dated before entry ${entries[i - 1].seq}`);
    }
  }
  return { violations, stats };
}
