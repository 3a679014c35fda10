import { NatsConnection } from 'nats';
import { AdversityPlan, LOW_BALANCE_THRESHOLDS, ResourcePlan } from './adversary';
import { AcknowledgedGrant, SentMessage, Subscription } from './adversary-driver';
import { RecordedRequest, StreamEvent } from './bank-checker';
import { sql, TestNames } from './engine';
import { sleep } from './load-generator';
import { alertsOf, Attributes, billingPeriods, D, debtors, expectedDraws, expectedGiveBack, fateOf, Fate, ModelGrant, ModelPrices, resourceCharge, SentEvent, ZERO } from './reference-model';

/**
 * The checks of the adversity test: what the reference model says the engine must have done,
 * against what it left in PostgreSQL and on the events stream, once everything has settled.
 * Every violation is listed (not just the first), each naming the organization, resource or
 * ledger entry, what was expected and what was found.
 */

export interface AdversityRecord {
  readonly plan: AdversityPlan;
  readonly sent: readonly SentMessage[];
  readonly requests: readonly RecordedRequest[];
  readonly grants: readonly AcknowledgedGrant[];
  readonly subscriptions: readonly Subscription[];
  readonly prices: ModelPrices;
  readonly replayMismatches: readonly string[];
}

// ---- what the model expects of each resource ------------------------------------------------------

export interface ResourceExpectation {
  readonly plan: ResourcePlan;
  /** Every distinct message sent (the first copy of each eventId), with its fate. */
  readonly events: readonly { readonly event: SentEvent; readonly fate: Fate }[];
  readonly taken: readonly SentEvent[];
  /** What it owes in all; null if the engine should not know it at all (no message taken). */
  readonly charge: D | null;
  readonly gpuMs: number;
  readonly error: string | null;
}

export function expectations(record: AdversityRecord): Map<string, ResourceExpectation> {
  const out = new Map<string, ResourceExpectation>();
  const knows = (sku: string) => record.prices.knows(sku);
  for (const plan of record.plan.resources) {
    const seen = new Set<string>();
    const first: Attributes | null = plan.kind === 'unknown-sku' ? null : { workspaceId: plan.workspaceId, service: plan.service, sku: plan.sku };
    const events: { event: SentEvent; fate: Fate }[] = [];
    for (const m of record.sent) {
      if (m.planned.orgId !== plan.orgId || m.planned.resourceId !== plan.resourceId || seen.has(m.event.eventId)) continue;
      seen.add(m.event.eventId);
      // The anchor is the first message taken: it is judged as the resource's first.
      events.push({ event: m.event, fate: fateOf(m.event, m.planned.role === 'anchor' ? null : first, knows) });
    }
    const taken = events.filter((e) => e.fate.taken).map((e) => e.event);
    let charge: D | null = null;
    let gpuMs = 0;
    let error: string | null = null;
    if (taken.length > 0) {
      try {
        ({ charge, gpuMs } = resourceCharge(plan.sku, taken, record.prices));
      } catch (e) {
        error = (e as Error).message;
      }
    }
    out.set(`${plan.orgId}/${plan.resourceId}`, { plan, events, taken, charge, gpuMs, error });
  }
  return out;
}

// ---- what the engine left -----------------------------------------------------------------------------

interface LedgerRow {
  readonly orgId: string;
  readonly seq: number;
  readonly type: string;
  readonly amount: D;
  readonly split: readonly { readonly grantId: string; readonly amount: D }[];
  readonly key: string;
  readonly service: string | null;
  readonly resourceId: string | null;
  readonly usageMs: number | null;
  readonly usageUntilMs: number | null;
  readonly createdAtMs: number;
  readonly totalAfter: D;
}

interface GrantRow {
  readonly id: string;
  readonly orgId: string;
  readonly kind: 'plan' | 'voucher' | 'topup';
  readonly amount: D;
  readonly remaining: D;
  readonly service: string | null;
  readonly expiresAtMs: number | null;
  readonly createdAtMs: number;
}

export interface Store {
  readonly readAtMs: number;
  readonly ledger: readonly LedgerRow[];
  readonly grants: readonly GrantRow[];
  readonly wallets: ReadonlyMap<string, { readonly total: D; readonly seq: number }>;
  /** sum(meters.charged) per `orgId/resourceId`. */
  readonly meters: ReadonlyMap<string, D>;
  readonly resources: ReadonlyMap<string, { readonly eventIds: readonly string[]; readonly deleted: boolean; readonly recomputeFrom: string | null }>;
  /** Reasons recorded per rejected lifecycle eventId. */
  readonly rejected: ReadonlyMap<string, readonly string[]>;
  readonly outboxPending: number;
}

const ms = (d: Date | string | null) => (d === null ? null : new Date(d).getTime());

export async function readStore(record: AdversityRecord, databaseUrl: string): Promise<Store> {
  const orgs = record.plan.orgs.map((o) => o.orgId);
  const readAtMs = Date.now();
  const ledger = await sql(
    `select org_id, seq::int, type, amount::text, split, idempotency_key, service, resource_id, usage_ms::int, usage_until, created_at, total_after::text
     from ledger_entries where org_id = any($1) order by org_id, seq`,
    [orgs],
    databaseUrl,
  );
  const grants = await sql(`select id, org_id, kind, amount::text, remaining::text, service, expires_at, created_at from grants where org_id = any($1)`, [orgs], databaseUrl);
  const wallets = await sql(`select org_id, total::text, seq::int from wallets where org_id = any($1)`, [orgs], databaseUrl);
  const meters = await sql(`select org_id, resource_id, sum(charged)::text as charged from meters where org_id = any($1) group by 1, 2`, [orgs], databaseUrl);
  const resources = await sql(
    `select org_id, resource_id, deleted, recompute_from::text, array(select e->>'eventId' from jsonb_array_elements(events) e) as ids from resources where org_id = any($1)`,
    [orgs],
    databaseUrl,
  );
  const eventIds = [...new Set(record.sent.map((m) => m.event.eventId))];
  const rejected = await sql(`select event_id, reason from rejected_lifecycle_events where event_id = any($1)`, [eventIds], databaseUrl);
  const [outbox] = await sql(`select count(*)::int as n from outbox_events where split_part(subject, '.', 3) = any($1)`, [orgs], databaseUrl);
  const rejectedById = new Map<string, string[]>();
  for (const r of rejected) rejectedById.set(r.event_id, [...(rejectedById.get(r.event_id) ?? []), r.reason]);
  return {
    readAtMs,
    ledger: ledger.map((r) => ({
      orgId: r.org_id,
      seq: r.seq,
      type: r.type,
      amount: new D(r.amount),
      split: (r.split as { grantId: string; amount: string }[]).map((p) => ({ grantId: p.grantId, amount: new D(p.amount) })),
      key: r.idempotency_key,
      service: r.service,
      resourceId: r.resource_id,
      usageMs: r.usage_ms,
      usageUntilMs: ms(r.usage_until),
      createdAtMs: ms(r.created_at)!,
      totalAfter: new D(r.total_after),
    })),
    grants: grants.map((g) => ({ id: g.id, orgId: g.org_id, kind: g.kind, amount: new D(g.amount), remaining: new D(g.remaining), service: g.service, expiresAtMs: ms(g.expires_at), createdAtMs: ms(g.created_at)! })),
    wallets: new Map(wallets.map((w) => [w.org_id, { total: new D(w.total), seq: w.seq }])),
    meters: new Map(meters.map((m) => [`${m.org_id}/${m.resource_id}`, new D(m.charged)])),
    resources: new Map(resources.map((r) => [`${r.org_id}/${r.resource_id}`, { eventIds: r.ids, deleted: r.deleted, recomputeFrom: r.recompute_from }])),
    rejected: rejectedById,
    outboxPending: outbox.n,
  };
}

/**
 * Waits until the engines have done everything they will ever do for these organizations:
 * every message taken is stored and every refused one recorded, every resource deleted with
 * nothing left to recompute, the lifecycle consumer and the outbox empty, every voucher and plan
 * credit past its expiry and written off, and the ledger the same on two reads a second apart.
 * Returns the last read either way (what is missing is then the checker's to say).
 */
export async function settle(record: AdversityRecord, expected: ReadonlyMap<string, ResourceExpectation>, nc: NatsConnection, names: TestNames, databaseUrl: string, timeoutMs: number): Promise<{ store: Store; waitedMs: number; waitingFor: string | null }> {
  const fromMs = Date.now();
  const jsm = await nc.jetstreamManager();
  let previous = '';
  for (;;) {
    const store = await readStore(record, databaseUrl);
    const consumer = await jsm.consumers.info(names.lifecycleStream, names.lifecycleConsumer).catch(() => null);
    const waits: string[] = [];
    for (const [key, x] of expected) {
      const row = store.resources.get(key);
      if (x.charge !== null && (!row || !row.deleted || row.recomputeFrom !== null)) waits.push(`resource ${key} settled`);
      for (const { event, fate } of x.events) {
        if (fate.taken && !row?.eventIds.includes(event.eventId)) waits.push(`event ${event.eventId} stored`);
        if (!fate.taken && !store.rejected.has(event.eventId)) waits.push(`event ${event.eventId} rejected`);
      }
    }
    if (store.outboxPending > 0) waits.push(`${store.outboxPending} outbox events published`);
    if (!consumer || consumer.num_pending + consumer.num_ack_pending > 0) waits.push('the lifecycle consumer drained');
    const lastExpiry = Math.max(0, ...store.grants.map((g) => g.expiresAtMs ?? 0));
    if (Date.now() < lastExpiry + 2000) waits.push('every grant past its expiry');
    if (store.grants.some((g) => g.expiresAtMs !== null && g.expiresAtMs <= store.readAtMs && !g.remaining.isZero())) waits.push('expired grants written off');
    const fingerprint = `${store.ledger.length}|${[...store.wallets.values()].map((w) => w.seq).join(',')}|${[...store.meters.values()].map((m) => m.toFixed()).join(',')}`;
    if (waits.length === 0 && fingerprint === previous) return { store, waitedMs: Date.now() - fromMs, waitingFor: null };
    previous = waits.length === 0 ? fingerprint : '';
    if (Date.now() - fromMs > timeoutMs) return { store, waitedMs: Date.now() - fromMs, waitingFor: waits.slice(0, 5).join('; ') || 'a stable ledger' };
    await sleep(1000);
  }
}

// ---- the checks ---------------------------------------------------------------------------------------

export interface CheckReport {
  readonly violations: string[];
  readonly stats: Record<string, number>;
}

export function checkAdversity(record: AdversityRecord, expected: ReadonlyMap<string, ResourceExpectation>, store: Store, stream: readonly StreamEvent[]): CheckReport {
  const violations: string[] = [];
  const v = (s: string) => {
    if (violations.length < 300) violations.push(s);
  };
  const stats: Record<string, number> = {};
  const count = (k: string, n = 1) => (stats[k] = (stats[k] ?? 0) + n);
  for (const m of record.replayMismatches) v(`replay: ${m}`);
  for (const m of record.sent) if (!m.confirmed) v(`lifecycle message ${m.planned.msgId} was never stored by JetStream`);

  checkResources(expected, store, stream, v, count);
  for (const org of record.plan.orgs) checkWallet(org.orgId, record, expected, store, v, count);
  checkEvents(record, store, stream, v, count);
  publishingStats(record, count);
  return { violations, stats };
}

type Violation = (s: string) => void;
type Count = (k: string, n?: number) => void;

/** Every message taken stored once, every refused one recorded with its code, and each resource charged what the model says. */
function checkResources(expected: ReadonlyMap<string, ResourceExpectation>, store: Store, stream: readonly StreamEvent[], v: Violation, count: Count): void {
  const announced = new Set(stream.filter((e) => e.body.type === 'lifecycle_rejected').map((e) => String(e.body.lifecycleEventId)));
  const meterEntries = new Map<string, LedgerRow[]>();
  for (const e of store.ledger) if (e.key.startsWith('meter:')) meterEntries.set(`${e.orgId}/${e.resourceId}`, [...(meterEntries.get(`${e.orgId}/${e.resourceId}`) ?? []), e]);
  for (const [key, x] of expected) {
    count(`resources_${x.plan.kind}`);
    if (x.error) v(`resource ${key}: the model cannot bill it: ${x.error}`);
    const row = store.resources.get(key);
    const stored = row?.eventIds ?? [];
    for (const { event, fate } of x.events) {
      const times = stored.filter((id) => id === event.eventId).length;
      const reasons = store.rejected.get(event.eventId) ?? [];
      if (fate.taken) {
        count('eventsTaken');
        if (times !== 1) v(`resource ${key}: event ${event.eventId} (${event.status} at ${new Date(event.atMs).toISOString()}) should be taken, is stored ${times} times`);
        if (reasons.length > 0) v(`resource ${key}: event ${event.eventId} should be taken, but is also recorded as rejected: ${reasons[0]}`);
      } else {
        count('eventsRefused');
        count(`refused_${fate.code}`);
        if (times > 0) v(`resource ${key}: event ${event.eventId} should be refused (${fate.code}), is stored`);
        if (reasons.length === 0) v(`resource ${key}: event ${event.eventId} should be refused (${fate.code}), has no rejected_lifecycle_events row`);
        else if (!reasons.every((r) => r.startsWith(`${fate.code}:`))) v(`resource ${key}: event ${event.eventId} should be refused as ${fate.code}, recorded as: ${reasons.join(' | ')}`);
        if (!announced.has(event.eventId)) v(`resource ${key}: event ${event.eventId} was refused without a lifecycle_rejected event`);
      }
    }
    const sentIds = new Set(x.events.map((e) => e.event.eventId));
    for (const id of stored) if (!sentIds.has(id)) v(`resource ${key}: stores event ${id}, which was never sent`);
    const entries = meterEntries.get(key) ?? [];
    const charged = entries.reduce((s, e) => s.minus(e.amount), ZERO);
    const meters = store.meters.get(key) ?? ZERO;
    if (x.plan.kind === 'never-ran' && (entries.length > 0 || !meters.isZero())) v(`resource ${key}: never ran, yet has ${entries.length} meter entries (${charged.toFixed()} net)`);
    if (x.charge === null) {
      if (row) v(`resource ${key}: no message of it should be taken, yet the engine has a row for it`);
      if (entries.length > 0 || !meters.isZero()) v(`resource ${key}: should never be billed, has ${entries.length} meter entries (${charged.toFixed()})`);
      continue;
    }
    if (!row) {
      v(`resource ${key}: the engine has no row for it`);
      continue;
    }
    if (!row.deleted) v(`resource ${key}: not deleted in the store`);
    if (row.recomputeFrom !== null) v(`resource ${key}: still to recompute from ${row.recomputeFrom}`);
    count('meterEntries', entries.length);
    count('corrections', entries.filter((e) => e.type === 'correction').length);
    if (!charged.equals(x.charge)) v(`resource ${key} (${x.plan.kind}, ${x.plan.sku}): charged ${charged.toFixed()} in the ledger, the model says ${x.charge.toFixed()} (difference ${charged.minus(x.charge).toFixed()})`);
    if (!meters.equals(charged)) v(`resource ${key}: meters say ${meters.toFixed()}, the ledger ${charged.toFixed()}`);
    const gpuMs = entries.reduce((s, e) => s + (e.usageMs ?? 0), 0);
    if (gpuMs !== x.gpuMs) v(`resource ${key}: the ledger's GPU time is ${gpuMs} ms, the model says ${x.gpuMs} ms`);
  }
}

/**
 * One organization's ledger, replayed entry by entry against the wallet rules of the model:
 * who pays each charge (consumption order, expiry, debt), where each correction goes back, what
 * each expiry writes off; then the sums, and the total the model expects.
 */
function checkWallet(orgId: string, record: AdversityRecord, expected: ReadonlyMap<string, ResourceExpectation>, store: Store, v: Violation, count: Count): void {
  const entries = store.ledger.filter((e) => e.orgId === orgId);
  const rows = new Map(store.grants.filter((g) => g.orgId === orgId).map((g) => [g.id, g]));
  const wallet = store.wallets.get(orgId);
  const grants = new Map<string, ModelGrant>();
  const paidByMeter = new Map<string, Map<string, D>>();
  const moved = new Map<string, { credited: D; drawn: D; givenBack: D; writtenOff: D; rolledOver: D }>();
  const subscriptions = record.subscriptions.filter((s) => s.orgId === orgId);
  const at = (e: LedgerRow) => `${orgId} seq ${e.seq} (${e.type} ${e.amount.toFixed()}, ${e.key})`;
  let total = ZERO;
  entries.forEach((e, i) => {
    if (e.seq !== i + 1) v(`${orgId}: ledger seq ${e.seq} at position ${i + 1} (not gapless from 1)`);
    total = total.plus(e.amount);
    if (!total.equals(e.totalAfter)) v(`${at(e)}: total_after ${e.totalAfter.toFixed()}, the entries sum to ${total.toFixed()}`);
    const parts = new Map<string, D>();
    for (const p of e.split) parts.set(p.grantId, (parts.get(p.grantId) ?? ZERO).plus(p.amount));
    const isNew = new Set<string>();
    for (const id of parts.keys()) {
      if (grants.has(id)) continue;
      const row = rows.get(id);
      if (!row) {
        v(`${at(e)}: its split names grant ${id}, which is not one of ${orgId}'s`);
        continue;
      }
      isNew.add(id);
      grants.set(id, { id, kind: row.kind, service: row.service, expiresAtMs: row.expiresAtMs, createdAtMs: row.createdAtMs, remaining: ZERO });
      moved.set(id, { credited: ZERO, drawn: ZERO, givenBack: ZERO, writtenOff: ZERO, rolledOver: ZERO });
    }
    const existing = [...grants.values()].filter((g) => !isNew.has(g.id));
    const meterKey = e.key.startsWith('meter:') ? e.key.slice(0, e.key.lastIndexOf(':')) : null;
    switch (e.type) {
      case 'debit': {
        const usageEndMs = e.usageUntilMs ?? e.createdAtMs;
        const { draws, shortfall } = expectedDraws(existing, e.amount.negated(), e.service ?? '', usageEndMs);
        const rest = new Map(parts);
        for (const [id, d] of draws) rest.set(id, (rest.get(id) ?? ZERO).minus(d));
        for (const [id, d] of rest) if (d.isZero()) rest.delete(id);
        const describe = () => `drawn ${[...parts].map(([id, d]) => `${grants.get(id)?.kind ?? '?'}:${id.slice(0, 8)} ${d.toFixed()}`).join(', ')}; the model draws ${[...draws].map(([id, d]) => `${grants.get(id)!.kind}:${id.slice(0, 8)} ${d.toFixed()}`).join(', ') || 'nothing'} and charges ${shortfall.toFixed()} as debt`;
        if (shortfall.isZero()) {
          if (rest.size > 0) v(`${at(e)}: not in consumption order: ${describe()}`);
        } else {
          const [debtor, debt] = rest.size === 1 ? [...rest][0] : [null, null];
          const candidates = debtors(existing).map((g) => g.id);
          const placed = debtor !== null && debt!.equals(shortfall.negated()) && (candidates.length > 0 ? candidates.includes(debtor) : isNew.has(debtor) && grants.get(debtor)!.kind === 'topup');
          if (!placed) v(`${at(e)}: not in consumption order, or the debt not on the top-up grant in debt (else the newest): ${describe()}`);
        }
        for (const [id, d] of parts) {
          const g = grants.get(id);
          if (g && g.kind !== 'topup' && d.isNegative() && g.expiresAtMs !== null && g.expiresAtMs <= usageEndMs) v(`${at(e)}: draws ${d.toFixed()} from ${g.kind} ${id} for usage until ${new Date(usageEndMs).toISOString()}, at or after its expiry ${new Date(g.expiresAtMs).toISOString()}`);
        }
        if (meterKey) {
          const paid = paidByMeter.get(meterKey) ?? new Map<string, D>();
          for (const [id, d] of parts) paid.set(id, (paid.get(id) ?? ZERO).minus(d));
          paidByMeter.set(meterKey, paid);
        }
        break;
      }
      case 'correction': {
        if (!meterKey) {
          v(`${at(e)}: a correction that is not a meter entry`);
          break;
        }
        const paid = paidByMeter.get(meterKey) ?? new Map<string, D>();
        const back = expectedGiveBack(paid, grants, e.amount);
        if (!back) v(`${at(e)}: gives back more than meter ${meterKey} was paid`);
        else if (back.size !== parts.size || [...back].some(([id, d]) => !parts.get(id)?.equals(d)))
          v(`${at(e)}: gives back ${[...parts].map(([id, d]) => `${grants.get(id)?.kind}:${id.slice(0, 8)} ${d.toFixed()}`).join(', ')}; the model gives back ${[...back].map(([id, d]) => `${grants.get(id)!.kind}:${id.slice(0, 8)} ${d.toFixed()}`).join(', ')} (latest payer in consumption order first)`);
        for (const [id, d] of parts) {
          paid.set(id, (paid.get(id) ?? ZERO).minus(d));
          const g = grants.get(id);
          if (g && g.kind !== 'topup' && g.expiresAtMs !== null && g.expiresAtMs <= e.createdAtMs) count('givenBackToExpiredGrants');
        }
        break;
      }
      case 'expire': {
        count('expiries');
        const [[id, d]] = parts.size === 1 ? [...parts] : [[null, null]];
        const g = id ? grants.get(id) : undefined;
        if (!g || g.kind === 'topup') v(`${at(e)}: an expiry must write off one voucher or plan grant`);
        else {
          if (g.expiresAtMs === null || g.expiresAtMs > e.createdAtMs) v(`${at(e)}: writes off ${g.kind} ${id} before its expiry (${g.expiresAtMs === null ? 'never' : new Date(g.expiresAtMs).toISOString()})`);
          if (!d!.negated().equals(g.remaining) || !g.remaining.greaterThan(0)) v(`${at(e)}: writes off ${d!.negated().toFixed()} of ${g.kind} ${id}, which holds ${g.remaining.toFixed()}`);
        }
        break;
      }
      case 'rollover': {
        count('rollovers');
        const from = [...parts].find(([, d]) => d.isNegative());
        const to = [...parts].find(([, d]) => d.isPositive());
        const old = from && grants.get(from[0]);
        const next = to && grants.get(to[0]);
        if (!old || !next || parts.size !== 2 || !e.amount.isZero() || old.kind !== 'plan' || next.kind !== 'plan' || !isNew.has(next.id)) v(`${at(e)}: a rollover must move credit from a plan grant to a new plan grant`);
        else {
          if (old.expiresAtMs === null || old.expiresAtMs > e.createdAtMs) v(`${at(e)}: rolls over plan ${old.id} before its expiry`);
          if (from![1].negated().greaterThan(old.remaining)) v(`${at(e)}: rolls over ${from![1].negated().toFixed()}, plan ${old.id} holds ${old.remaining.toFixed()}`);
          const period = subscriptions[0]?.periodMs;
          if (period !== undefined && next.expiresAtMs !== (old.expiresAtMs ?? 0) + period) v(`${at(e)}: the rolled-over credit expires at ${next.expiresAtMs}, one period after ${old.expiresAtMs} expected`);
        }
        break;
      }
      case 'topup': {
        const inDebt = existing.find((g) => g.kind === 'topup' && g.remaining.isNegative());
        if (inDebt && !parts.get(inDebt.id)?.equals(inDebt.remaining.negated())) v(`${at(e)}: top-up grant ${inDebt.id} is in debt ${inDebt.remaining.toFixed()}, the top-up does not pay it first`);
        break;
      }
      case 'grant':
        if (parts.size !== 1 || isNew.size !== 1 || !e.amount.isPositive()) v(`${at(e)}: a grant must credit one new grant`);
        break;
      default:
        v(`${at(e)}: unexpected entry type ${e.type}`);
    }
    for (const [id, d] of parts) {
      const g = grants.get(id);
      const m = moved.get(id);
      if (!g || !m) continue;
      g.remaining = g.remaining.plus(d);
      if (e.type === 'topup' || e.type === 'grant' || (e.type === 'rollover' && d.isPositive())) m.credited = m.credited.plus(d);
      else if (e.type === 'debit') m.drawn = m.drawn.minus(d);
      else if (e.type === 'correction') m.givenBack = m.givenBack.plus(d);
      else if (e.type === 'expire') m.writtenOff = m.writtenOff.minus(d);
      else if (e.type === 'rollover') m.rolledOver = m.rolledOver.minus(d);
      if (g.kind !== 'topup' && g.remaining.isNegative()) v(`${at(e)}: leaves ${g.kind} ${id} at ${g.remaining.toFixed()}`);
    }
  });

  // Each grant: what the replay leaves is what the database holds; a voucher or plan credit past its expiry holds nothing.
  for (const row of rows.values()) {
    const g = grants.get(row.id);
    if (!g) {
      v(`${orgId}: grant ${row.id} (${row.kind} ${row.amount.toFixed()}) is touched by no ledger entry`);
      continue;
    }
    if (!g.remaining.equals(row.remaining)) v(`${orgId}: grant ${row.id} (${row.kind}) holds ${row.remaining.toFixed()} in the database, its ledger entries leave ${g.remaining.toFixed()}`);
    if (row.kind === 'topup' || row.expiresAtMs === null || row.expiresAtMs > store.readAtMs) continue;
    const m = moved.get(row.id)!;
    if (!row.remaining.isZero()) v(`${orgId}: ${row.kind} grant ${row.id} expired at ${new Date(row.expiresAtMs).toISOString()} and still holds ${row.remaining.toFixed()}`);
    if (!m.credited.equals(m.drawn.minus(m.givenBack).plus(m.writtenOff).plus(m.rolledOver)))
      v(`${orgId}: ${row.kind} grant ${row.id}: credited ${m.credited.toFixed()} != drawn ${m.drawn.toFixed()} - given back ${m.givenBack.toFixed()} + written off ${m.writtenOff.toFixed()} + rolled over ${m.rolledOver.toFixed()}`);
  }

  // The sums, and the total the model expects from what was acknowledged and what the resources owe.
  const ledgerSum = entries.reduce((s, e) => s.plus(e.amount), ZERO);
  const grantSum = [...rows.values()].reduce((s, g) => s.plus(g.remaining), ZERO);
  if (!wallet) {
    v(`${orgId}: no wallet row`);
    return;
  }
  if (!ledgerSum.equals(grantSum) || !ledgerSum.equals(wallet.total)) v(`${orgId}: sum(ledger) ${ledgerSum.toFixed()}, sum(grants.remaining) ${grantSum.toFixed()}, wallet total ${wallet.total.toFixed()}`);
  if (wallet.seq !== entries.length) v(`${orgId}: wallet seq ${wallet.seq}, the ledger has ${entries.length} entries`);

  const byKey = new Map<string, LedgerRow[]>();
  for (const e of entries) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e]);
  const expectOnce = (key: string, type: string, amount: D, what: string) => {
    const found = byKey.get(key) ?? [];
    if (found.length !== 1) v(`${orgId}: acknowledged ${what} ${key} is in the ledger ${found.length} times`);
    else if (found[0].type !== type || !found[0].amount.equals(amount)) v(`${orgId}: acknowledged ${what} ${key} is a ${found[0].type} of ${found[0].amount.toFixed()}, expected a ${type} of ${amount.toFixed()}`);
  };
  const known = new Set<string>();
  let credits = ZERO;
  let debits = ZERO;
  for (const r of record.requests.filter((x) => x.orgId === orgId)) {
    known.add(r.idempotencyKey);
    const amount = new D(r.body.amount);
    if (r.outcome.kind === 'ok') {
      expectOnce(r.idempotencyKey, r.command, r.command === 'topup' ? amount : amount.negated(), r.command);
      if (r.command === 'topup') credits = credits.plus(amount);
      else debits = debits.plus(amount);
    } else if (r.outcome.kind === 'refused') {
      if (byKey.has(r.idempotencyKey)) v(`${orgId}: refused ${r.command} ${r.idempotencyKey} (${r.outcome.code}) is in the ledger`);
    } else v(`${orgId}: ${r.command} ${r.idempotencyKey} still has no answer`);
  }
  for (const g of record.grants.filter((x) => x.orgId === orgId)) {
    known.add(g.idempotencyKey);
    if (g.ok) {
      expectOnce(g.idempotencyKey, 'grant', new D(g.amount), 'voucher');
      credits = credits.plus(g.amount);
    } else if (byKey.has(g.idempotencyKey)) v(`${orgId}: refused voucher ${g.idempotencyKey} is in the ledger`);
  }
  const resources = new Set(record.plan.resources.filter((r) => r.orgId === orgId).map((r) => r.resourceId));
  let writeOffs = ZERO;
  for (const e of entries) {
    if (known.has(e.key)) continue;
    if (e.key.startsWith('meter:')) {
      if (!e.resourceId || !resources.has(e.resourceId) || !e.key.startsWith(`meter:${e.resourceId}:`)) v(`${at(e)}: a meter entry for a resource of another organization, or none`);
    } else if (e.type === 'expire' || e.type === 'rollover') {
      if (e.type === 'expire') writeOffs = writeOffs.minus(e.amount);
    } else if (e.type === 'grant' && e.key.startsWith('plan:')) {
      credits = credits.plus(e.amount);
      checkPlanPeriod(e, subscriptions, rows, v, at);
      count('planPeriods');
    } else v(`${at(e)}: an entry nobody asked for`);
  }
  let charges = ZERO;
  for (const x of expected.values()) if (x.plan.orgId === orgId && x.charge) charges = charges.plus(x.charge);
  const modelTotal = credits.minus(debits).minus(charges).minus(writeOffs);
  if (!modelTotal.equals(ledgerSum))
    v(`${orgId}: the model's total is ${modelTotal.toFixed()} (credits ${credits.toFixed()} - debits ${debits.toFixed()} - resource charges ${charges.toFixed()} - write-offs ${writeOffs.toFixed()}), the ledger's ${ledgerSum.toFixed()} (difference ${ledgerSum.minus(modelTotal).toFixed()})`);
  if (wallet.total.lessThanOrEqualTo(0)) count('orgsInDebtAtEnd');
}

/** A plan period's credit: one of the subscription's periods, started before it was cancelled, expiring at the period's end. */
function checkPlanPeriod(e: LedgerRow, subscriptions: readonly Subscription[], rows: ReadonlyMap<string, GrantRow>, v: Violation, at: (e: LedgerRow) => string): void {
  const [, id, start] = e.key.split(':');
  const s = subscriptions.find((x) => x.id === id);
  const startMs = Number(start);
  if (!s) return v(`${at(e)}: plan credit of a subscription this organization does not have`);
  if ((startMs - s.startsAtMs) % s.periodMs !== 0 || startMs < s.startsAtMs) v(`${at(e)}: a plan period starting ${new Date(startMs).toISOString()} is not one of the subscription's`);
  if (s.cancelledAtMs !== null && startMs >= s.cancelledAtMs) v(`${at(e)}: a plan period starting ${new Date(startMs).toISOString()}, after the subscription was cancelled`);
  const grant = rows.get(e.split[0]?.grantId ?? '');
  if (grant?.expiresAtMs !== startMs + s.periodMs) v(`${at(e)}: the period's credit expires ${grant?.expiresAtMs}, not at the period's end ${startMs + s.periodMs}`);
}

/**
 * The events stream: the durable events only (a `balance` is a live push, never stored);
 * `depleted` exactly where a batch took the total from above zero to zero or below, a
 * `low_balance` per threshold crossed downwards, a `grant_expired` per write-off, nothing twice.
 * A batch is the entries decided at one instant: the wallet actor decides each batch at a later
 * instant than the last (`WalletActor.instant`), so the ledger's times never go back and a batch
 * is told from the next by its time alone.
 */
function checkEvents(record: AdversityRecord, store: Store, stream: readonly StreamEvent[], v: Violation, count: Count): void {
  const ids = new Map<string, number>();
  for (const e of stream) ids.set(e.body.eventId, (ids.get(e.body.eventId) ?? 0) + 1);
  for (const [id, n] of ids) if (n > 1) v(`event ${id} is in the stream ${n} times`);
  const thresholds = LOW_BALANCE_THRESHOLDS.map((t) => new D(t));
  for (const { orgId } of record.plan.orgs) {
    const entries = store.ledger.filter((e) => e.orgId === orgId).sort((a, b) => a.seq - b.seq);
    const mine = stream.filter((e) => e.body.orgId === orgId);
    for (const e of mine) count(`events_${e.body.type}`);
    if (mine.some((e) => e.body.type === 'balance')) v(`${orgId}: balance events in the stream (they are live pushes only)`);

    const expectedAlerts: string[] = [];
    let before = ZERO;
    for (let i = 0; i < entries.length; i++) {
      if (i > 0 && entries[i].createdAtMs < entries[i - 1].createdAtMs) v(`${orgId}: entry ${entries[i].seq} is dated before entry ${entries[i - 1].seq} (a batch decided at an earlier instant than the one before)`);
      const last = entries[i];
      // The last entry of its batch: the next one (if any) was decided at another instant.
      if (i + 1 < entries.length && entries[i + 1].createdAtMs === last.createdAtMs) continue;
      const { depleted, lowBalance } = alertsOf(before, last.totalAfter, thresholds);
      if (depleted) expectedAlerts.push(`depleted@${last.seq}`);
      for (const t of lowBalance) expectedAlerts.push(`low_balance@${last.seq}:${t.toFixed()}`);
      before = last.totalAfter;
    }
    for (const e of entries) if (e.type === 'expire') expectedAlerts.push(`grant_expired@${e.seq}:${e.split[0]?.grantId}`);
    const got = mine
      .filter((e) => ['depleted', 'low_balance', 'grant_expired'].includes(e.body.type))
      .map((e) => (e.body.type === 'depleted' ? `depleted@${e.body.seq}` : e.body.type === 'low_balance' ? `low_balance@${e.body.seq}:${new D(String(e.body.threshold)).toFixed()}` : `grant_expired@${e.body.seq}:${e.body.grantId}`));
    const missing = difference(expectedAlerts, got);
    const extra = difference(got, expectedAlerts);
    if (missing.length > 0) v(`${orgId}: events missing (type@seq[:threshold|grant]): ${missing.slice(0, 10).join(', ')}`);
    if (extra.length > 0) v(`${orgId}: events nobody should have sent: ${extra.slice(0, 10).join(', ')}`);
  }
}

function difference(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1);
  return a.filter((x) => {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    return n === 0;
  });
}

/**
 * Whether the histories did what they are there for: runs across the price change and across UTC
 * midnight, restarts within one instant, runs still open while a voucher or plan credit expired.
 */
export function coverage(expected: ReadonlyMap<string, ResourceExpectation>, priceChangeFromMs: number | null, midnightMs: number, expiriesMs: readonly number[]): Record<string, number> {
  const out = { runsAcrossPriceChange: 0, runsAcrossMidnight: 0, sameInstantStartStop: 0, runsAcrossAnExpiry: 0 };
  for (const x of expected.values()) {
    if (x.charge === null || x.error) continue;
    const across = (t: number) => billingPeriods(x.taken).runs.filter(([a, b]) => a < t && t < b).length;
    if (priceChangeFromMs !== null) out.runsAcrossPriceChange += across(priceChangeFromMs);
    out.runsAcrossMidnight += across(midnightMs) + across(midnightMs - 86_400_000);
    out.runsAcrossAnExpiry += billingPeriods(x.taken).runs.filter(([a, b]) => expiriesMs.some((t) => a < t && t < b)).length;
    const statuses = new Map<number, Set<string>>();
    for (const e of x.taken) statuses.set(e.atMs, (statuses.get(e.atMs) ?? new Set()).add(e.status));
    for (const set of statuses.values()) if (set.has('RUNNING') && ['STOPPING', 'STOPPED', 'FAILED'].some((st) => set.has(st))) out.sameInstantStartStop++;
  }
  return out;
}

/** How adversarial the publishing was: duplicates, and messages sent after one stamped later (late, reordered). */
function publishingStats(record: AdversityRecord, count: Count): void {
  const latestStamp = new Map<string, number>();
  for (const m of record.sent) {
    const key = `${m.planned.orgId}/${m.planned.resourceId}`;
    count('messagesPublished');
    count(`messages_${m.planned.role}`);
    if (m.planned.role === 'true' || m.planned.role === 'anchor') {
      if ((latestStamp.get(key) ?? Number.NEGATIVE_INFINITY) > m.event.atMs) count('messagesAfterALaterOne');
      if (m.event.publishedAtMs - m.event.atMs >= 3_600_000) count('messagesLateByHours');
      else if (m.event.publishedAtMs - m.event.atMs >= 1000) count('messagesLateBySeconds');
      latestStamp.set(key, Math.max(latestStamp.get(key) ?? Number.NEGATIVE_INFINITY, m.event.atMs));
    }
  }
}

