import { between, mulberry32, pick } from './load-generator';
import { Attributes, MAX_FUTURE_MS, MAX_PAST_MS, Status } from './reference-model';

/**
 * The adversary of the adversity test, part one: everything it will do, drawn from one seed
 * before anything runs (mulberry32), so that a failing seed replays the same lifecycle histories,
 * the same wallet set-up and the same faults at the same offsets. Part two
 * (`adversary-driver.ts`) sends it to the engines and does the faults.
 *
 * Times are offsets from the start of the load (`loadMs`), or instants placed relative to the
 * last UTC midnight at least an hour before the run (`midnightMs`), so histories cross midnight
 * whatever the time of day.
 */

export const CURRENCY = 'USD';
export const SERVICES = ['gpu-container', 'ai-notebook', 'gpu-vm'] as const;
/** A service no resource uses: a voucher scoped to it never pays for anything here. */
const IDLE_SERVICE = 'inference';
export const UNKNOWN_SKU = 'z999-64x';
export const LEASE_TTL_MS = 3000;
export const LOW_BALANCE_THRESHOLDS = ['1000', '100', '25', '5', '0.5'];

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Prices with many decimals, so that rounding once per run (not per piece) shows. */
const PRICES_V1 = {
  gpu: {
    'h100-1x': { USD: '2.51234567', VND: '62000', JPY: '380' },
    'h100-8x': { USD: '20.00000001', VND: '496000', JPY: '3040' },
    'h200-1x': { USD: '3.2', VND: '79000', JPY: '490' },
    'a100-1x': { USD: '1.60', VND: '40000', JPY: '245' },
    'l40s-1x': { USD: '1.13333333', VND: '27000', JPY: '170' },
  },
  storagePerGbHour: { USD: '0.00023457', VND: '5', JPY: '0.03' },
};
const PRICES_V2 = {
  gpu: {
    'h100-1x': { USD: '2.87654321', VND: '71000', JPY: '430' },
    'h100-8x': { USD: '23.33333333', VND: '560000', JPY: '3500' },
    'h200-1x': { USD: '3.70000007', VND: '90000', JPY: '560' },
    'a100-1x': { USD: '1.77777777', VND: '44000', JPY: '270' },
    'l40s-1x': { USD: '0.99999999', VND: '25000', JPY: '150' },
  },
  storagePerGbHour: { USD: '0.00031111', VND: '7', JPY: '0.04' },
};
export const KNOWN_SKUS = Object.keys(PRICES_V1.gpu);

/** The catalog the engines start with: one set of prices, since always. */
export function firstCatalog(): object {
  return PRICES_V1;
}

/** The catalog after the price change: the first prices since always (as recorded), new ones from `effectiveFromMs`. */
export function changedCatalog(effectiveFromMs: number): object {
  return { versions: [{ effectiveFrom: new Date(0).toISOString(), ...PRICES_V1 }, { effectiveFrom: new Date(effectiveFromMs).toISOString(), ...PRICES_V2 }] };
}

// ---- the plan -----------------------------------------------------------------------------------

export interface VoucherPlan {
  readonly idempotencyKey: string;
  readonly amount: string;
  readonly service: string | null;
  /** Expires this long after the load starts: while stops are in flight. */
  readonly expiresAfterMs: number;
}

export interface OrgPlan {
  readonly orgId: string;
  /** The first top-up; the poor organization gets so little that it goes into debt. */
  readonly topup: string;
  readonly poor: boolean;
  readonly vouchers: readonly VoucherPlan[];
  /** Plan credit each period (cancelled once the database is back after the outage). */
  readonly plan: { readonly amount: string; readonly periodSeconds: number; readonly rolloverCap: string | null } | null;
}

/**
 * historical: ran hours to a day and more ago, told late, out of order, with duplicates;
 * never-ran: PENDING then DELETED; live: runs during the test, across the faults, the price change
 * and the grants' expiries; unknown-sku: only messages naming a SKU nobody prices.
 */
export type ResourceKind = 'historical' | 'never-ran' | 'live' | 'unknown-sku';

export interface ResourcePlan extends Attributes {
  readonly orgId: string;
  readonly resourceId: string;
  readonly kind: ResourceKind;
  /** The disk its messages state when they state it. */
  readonly storageGb: number;
}

/** Why a message is sent: as the control plane meant it, a copy of one, or junk of some kind. */
export type MessageRole = 'anchor' | 'true' | 'duplicate' | 'far-future' | 'too-old' | 'unknown-sku' | 'mismatch' | 'mismatch-deleted';

export interface PlannedMessage extends Attributes {
  readonly orgId: string;
  readonly resourceId: string;
  readonly eventId: string;
  readonly status: Status;
  readonly storageGb: number | null;
  /** The stamp; null: stamped when sent (live resources), see `Publication`. */
  readonly atMs: number | null;
  /** JetStream message id: the eventId, or another for a duplicate, so that the engine, not JetStream, has to drop it. */
  readonly msgId: string;
  readonly role: MessageRole;
}

/**
 * Messages sent together, `afterMs` into the load. Those stamped when sent get one stamp:
 * the sending instant less `lagMs` (a message late by seconds), to the second if `wholeSecond`.
 */
export interface Publication {
  readonly afterMs: number;
  readonly messages: readonly PlannedMessage[];
  readonly lagMs: number;
  readonly wholeSecond: boolean;
}

/** The faults, in order. Offsets from the start of the load unless said otherwise. */
export interface FaultPlan {
  readonly kill: { readonly atMs: number; readonly engine: 0 | 1; readonly downMs: number };
  /** SIGSTOP of the engine owning most of the organizations, past 2 lease TTLs, then SIGCONT. */
  readonly pause: { readonly atMs: number; readonly pauseMs: number };
  readonly natsRestart: { readonly atMs: number; readonly downMs: number };
  /** PostgreSQL cut off (at the proxy); maybe an engine killed meanwhile, started once it is back. */
  readonly outage: { readonly atMs: number; readonly ms: number; readonly mode: 'refuse' | 'blackhole'; readonly killEngine: 0 | 1 | null; readonly killAfterMs: number };
  /** After the outage: the new catalog, each engine killed and started with it, one after the other. */
  readonly priceChange: { readonly afterOutageMs: number; readonly effectiveInMs: number; readonly first: 0 | 1; readonly secondAfterMs: number };
  /** After the price change: one more kill, the next start sometimes killed again while starting. */
  readonly lastKill: { readonly afterMs: number; readonly engine: 0 | 1; readonly againWhileStartingMs: number | null };
}

export interface AdversityPlan {
  readonly seed: number;
  readonly midnightMs: number;
  readonly orgs: readonly OrgPlan[];
  readonly resources: readonly ResourcePlan[];
  /** First message of every resource the engine should know (PENDING, true attributes), applied before anything else. */
  readonly anchors: readonly PlannedMessage[];
  /** Everything else during the load, by `afterMs`. */
  readonly publications: readonly Publication[];
  /** The live resources' last messages, sent once the faults are over (stop?, DELETED, junk DELETED?). */
  readonly finish: readonly Publication[];
  readonly faults: FaultPlan;
  /** How long the load lasts at least (the faults may make it longer). */
  readonly loadMs: number;
  readonly debitRate: { readonly minGapMs: number; readonly maxGapMs: number };
}

export interface PlanOptions {
  readonly seed: number;
  /** When the run starts (only shifts the plan in time). */
  readonly nowMs: number;
  readonly outageMs: number;
}

/** Amounts with up to 8 decimals between lo and hi. */
function amount(rng: () => number, lo: number, hi: number): string {
  const units = between(rng, lo * 1e8, hi * 1e8);
  return `${Math.floor(units / 1e8)}.${String(units % 1e8).padStart(8, '0')}`;
}

/** An instant to the second, or (half the time) to the millisecond. */
function stamp(rng: () => number, ms: number): number {
  const s = Math.floor(ms / SECOND) * SECOND;
  return rng() < 0.5 ? s : s + between(rng, 1, 999);
}

export function makePlan({ seed, nowMs, outageMs }: PlanOptions): AdversityPlan {
  const rng = mulberry32(seed);
  const midnightMs = Math.floor((nowMs - HOUR) / DAY) * DAY;
  const prefix = `s${seed.toString(36)}`;

  // Faults first: the rest is placed around them.
  const faults: FaultPlan = {
    kill: { atMs: between(rng, 4, 8) * SECOND, engine: pick(rng, [0, 1] as const), downMs: pick(rng, [0, 0, between(rng, 500, 3000)]) },
    pause: { atMs: between(rng, 12, 16) * SECOND, pauseMs: 2.5 * LEASE_TTL_MS + between(rng, 0, 3000) },
    natsRestart: { atMs: between(rng, 28, 31) * SECOND, downMs: between(rng, 500, 3000) },
    outage: { atMs: between(rng, 36, 40) * SECOND, ms: outageMs, mode: pick(rng, ['refuse', 'blackhole'] as const), killEngine: pick(rng, [0, 1, null] as const), killAfterMs: between(rng, 5, Math.max(6, outageMs / 1000 - 10)) * SECOND },
    priceChange: { afterOutageMs: between(rng, 4, 8) * SECOND, effectiveInMs: between(rng, 25, 35) * SECOND, first: pick(rng, [0, 1] as const), secondAfterMs: between(rng, 3, 6) * SECOND },
    lastKill: { afterMs: between(rng, 12, 18) * SECOND, engine: pick(rng, [0, 1] as const), againWhileStartingMs: rng() < 0.4 ? between(rng, 100, 1500) : null },
  };
  const outageEndMs = faults.outage.atMs + faults.outage.ms;
  const priceEffectiveMs = outageEndMs + faults.priceChange.afterOutageMs + faults.priceChange.effectiveInMs;
  const loadMs = priceEffectiveMs + between(rng, 8, 14) * SECOND;

  // Organizations: the first is poor; vouchers expire before the outage or after it, during the load.
  const orgs: OrgPlan[] = Array.from({ length: between(rng, 4, 6) }, (_, i) => {
    const poor = i === 0;
    const vouchers: VoucherPlan[] = Array.from({ length: between(rng, poor ? 1 : 0, 3) }, (_, k) => ({
      idempotencyKey: `v-${prefix}-${i}-${k}`,
      amount: amount(rng, 0.5, 20),
      service: pick(rng, [null, null, 'ai-notebook', 'gpu-container', IDLE_SERVICE]),
      expiresAfterMs: rng() < 0.5 ? between(rng, 15, 35) * SECOND : outageEndMs + between(rng, 8, Math.max(9, (loadMs - outageEndMs) / SECOND - 8)) * SECOND,
    }));
    const plan = i === 1 || rng() < 0.4 ? { amount: amount(rng, 0.5, 5), periodSeconds: between(rng, 15, 25), rolloverCap: rng() < 0.5 ? amount(rng, 0.1, 2) : null } : null;
    return { orgId: `${prefix}-o${i}`, topup: poor ? '1.00' : pick(rng, ['30.00', '120.00', '400.00', '2500.00']), poor, vouchers, plan };
  });

  const resources: ResourcePlan[] = [];
  const addResource = (kind: ResourceKind, orgId: string): ResourcePlan => {
    const r: ResourcePlan = {
      orgId,
      resourceId: `r${resources.length}-${kind}`,
      kind,
      workspaceId: pick(rng, ['ws-a', 'ws-b', 'ws-c']),
      service: pick(rng, SERVICES),
      sku: kind === 'unknown-sku' ? UNKNOWN_SKU : pick(rng, KNOWN_SKUS),
      storageGb: rng() < 0.3 ? 0 : between(rng, 10, 800),
    };
    resources.push(r);
    return r;
  };
  const orgFor = (i: number) => (i < 2 ? orgs[0].orgId : pick(rng, orgs).orgId);
  const counts = { historical: between(rng, 12, 20), 'never-ran': between(rng, 2, 3), live: between(rng, 5, 8), 'unknown-sku': between(rng, 1, 2) };
  for (const kind of ['historical', 'never-ran', 'live', 'unknown-sku'] as const) for (let i = 0; i < counts[kind]; i++) addResource(kind, orgFor(i));

  const anchors: PlannedMessage[] = [];
  const publications: Publication[] = [];
  const finish: Publication[] = [];
  const lastPublishMs = loadMs - 10 * SECOND;
  let n = 0;
  const message = (r: ResourcePlan, status: Status, atMs: number | null, role: MessageRole = 'true', attrs: Partial<Attributes> = {}): PlannedMessage => {
    const eventId = `${r.resourceId}-e${++n}`;
    // Half the messages leave the disk out; a junk message never states one (it could not be a wrong one).
    const statesDisk = role === 'true' || role === 'anchor' || role === 'unknown-sku' ? rng() < 0.5 : false;
    return { orgId: r.orgId, resourceId: r.resourceId, workspaceId: r.workspaceId, service: r.service, sku: r.sku, ...attrs, eventId, status, storageGb: statesDisk ? r.storageGb : null, atMs, msgId: eventId, role };
  };
  const at = (afterMs: number, messages: PlannedMessage[], lagMs = 0, wholeSecond = false) => publications.push({ afterMs, messages, lagMs, wholeSecond });
  /** Sent at a random moment of the load, and now and then once more (same body, another JetStream id). */
  const scatter = (m: PlannedMessage) => {
    at(between(rng, 0, lastPublishMs), [m]);
    if (rng() < 0.15) at(between(rng, 0, lastPublishMs), [{ ...m, msgId: `${m.eventId}.dup`, role: 'duplicate' }]);
  };
  const anotherAttribute = (r: ResourcePlan): Partial<Attributes> =>
    pick(rng, [{ sku: pick(rng, KNOWN_SKUS.filter((s) => s !== r.sku)) }, { workspaceId: 'ws-elsewhere' }, { service: pick(rng, SERVICES.filter((s) => s !== r.service)) }]);

  for (const r of resources) {
    if (r.kind === 'historical') {
      const h = historicalHistory(rng, midnightMs, nowMs);
      anchors.push(message(r, 'PENDING', h.anchorMs, 'anchor'));
      for (const e of h.events) scatter(message(r, e.status, e.atMs));
      // Junk: refused for good, except a DELETED naming other attributes (taken, for its status and time).
      if (rng() < 0.25) scatter(message(r, pick(rng, ['RUNNING', 'STOPPED'] as const), Date.UTC(2099, between(rng, 0, 11), between(rng, 1, 28)), 'far-future'));
      if (rng() < 0.15) scatter(message(r, pick(rng, ['RUNNING', 'DELETED'] as const), nowMs - 31 * DAY - between(rng, 0, 5) * DAY, 'too-old'));
      if (rng() < 0.3) scatter(message(r, pick(rng, ['PENDING', 'RUNNING'] as const), between(rng, h.anchorMs, h.deletedMs), 'mismatch', anotherAttribute(r)));
      if (rng() < 0.2) scatter(message(r, 'DELETED', stamp(rng, h.deletedMs + between(rng, -30, 10) * MINUTE), 'mismatch-deleted', anotherAttribute(r)));
    } else if (r.kind === 'never-ran') {
      const fromMs = stamp(rng, midnightMs - between(rng, 1, 20) * HOUR);
      anchors.push(message(r, 'PENDING', fromMs, 'anchor'));
      if (rng() < 0.5) scatter(message(r, pick(rng, ['STOPPED', 'FAILED'] as const), fromMs + between(rng, 1, 600) * SECOND));
      scatter(message(r, 'DELETED', fromMs + between(rng, 601, 3600) * SECOND));
    } else if (r.kind === 'unknown-sku') {
      const fromMs = stamp(rng, midnightMs - between(rng, 1, 20) * HOUR);
      for (const [status, afterS] of [['RUNNING', 0], ['STOPPED', between(rng, 60, 3600)], ['DELETED', between(rng, 3601, 7200)]] as const) scatter(message(r, status, fromMs + afterS * SECOND, 'unknown-sku'));
    } else {
      anchors.push(message(r, 'PENDING', Math.floor(nowMs / SECOND) * SECOND - 20 * SECOND, 'anchor'));
      liveHistory(rng, r, message, at, finish, anotherAttribute, priceEffectiveMs);
    }
  }
  publications.sort((a, b) => a.afterMs - b.afterMs);
  return { seed, midnightMs, orgs, resources, anchors, publications, finish, faults, loadMs, debitRate: { minGapMs: 150, maxGapMs: 600 } };
}

/**
 * A history that happened hours to a day and more ago: runs (or many short ones: flapping),
 * restarts stopped and started within one second, a stop told twice (STOPPING, then STOPPED),
 * blips while stopped (started and stopped within one second), sometimes deleted while
 * running, sometimes told something after DELETED (which changes nothing).
 */
function historicalHistory(rng: () => number, midnightMs: number, nowMs: number): { anchorMs: number; deletedMs: number; events: { status: Status; atMs: number }[] } {
  const latestMs = nowMs - 15 * MINUTE;
  const shape = pick(rng, ['runs', 'runs', 'flapping', 'across-midnight'] as const);
  let fromMs: number;
  let untilMs: number;
  if (shape === 'across-midnight') {
    fromMs = midnightMs - between(rng, 10, 180) * MINUTE;
    untilMs = midnightMs + between(rng, 5, 40) * MINUTE;
  } else {
    fromMs = midnightMs - between(rng, 1, 26) * HOUR - between(rng, 0, 59) * MINUTE;
    untilMs = Math.min(latestMs, fromMs + (shape === 'flapping' ? between(rng, 3, 30) * MINUTE : between(rng, 30, 28 * 60) * MINUTE));
  }
  const runs = shape === 'flapping' ? between(rng, 8, 25) : between(rng, 1, 4);
  // 2 x runs instants in [from, until]: run i from the 2i-th to the (2i+1)-th.
  const points = Array.from({ length: 2 * runs }, () => stamp(rng, between(rng, fromMs, untilMs))).sort((a, b) => a - b);
  const events: { status: Status; atMs: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const startMs = points[2 * i];
    let stopMs = points[2 * i + 1];
    const last = i === runs - 1;
    // A restart within one second: the stop and the next start at the same instant (it keeps running).
    if (!last && rng() < 0.25) stopMs = points[2 * i + 2] = Math.floor(points[2 * i + 2] / SECOND) * SECOND;
    events.push({ status: 'RUNNING', atMs: startMs });
    if (last && rng() < 0.3) break; // deleted while running
    events.push({ status: pick(rng, ['STOPPED', 'STOPPED', 'STOPPING', 'FAILED'] as const), atMs: stopMs });
    const nextStartMs = last ? untilMs : points[2 * i + 2];
    if (rng() < 0.2 && nextStartMs - stopMs > 2 * SECOND) events.push({ status: 'STOPPED', atMs: between(rng, stopMs + 1, nextStartMs - 1) });
    // A blip while stopped: started and stopped within one second (it stays stopped, its disk starts to count).
    if (rng() < 0.15 && nextStartMs - stopMs > 4 * SECOND) {
      const blipMs = Math.floor(between(rng, stopMs + 2 * SECOND, nextStartMs - 2 * SECOND) / SECOND) * SECOND;
      events.push({ status: 'RUNNING', atMs: blipMs }, { status: 'STOPPED', atMs: blipMs });
    }
  }
  const lastMs = Math.max(...events.map((e) => e.atMs));
  const deletedMs = Math.min(latestMs, events[events.length - 1].status === 'RUNNING' && rng() < 0.5 ? lastMs + between(rng, 1, 3600) * SECOND : lastMs + between(rng, 0, 1800) * SECOND);
  events.push({ status: 'DELETED', atMs: deletedMs });
  if (rng() < 0.1) events.push({ status: 'RUNNING', atMs: deletedMs }); // a start at the instant it is deleted: nothing
  if (rng() < 0.2) events.push({ status: 'RUNNING', atMs: Math.min(latestMs + 5 * MINUTE, deletedMs + between(rng, 1, 60) * MINUTE) }); // after DELETED: nothing
  const anchorMs = Math.floor((fromMs - between(rng, 1, 20) * MINUTE) / SECOND) * SECOND;
  return { anchorMs, deletedMs, events };
}

/**
 * A resource that runs during the load: started at the beginning (or a little later), stopped and
 * started every 8-25 s, some stops told late (stamped seconds before they are sent), some
 * restarts within one second, some blips; mostly running across the price change (planned
 * `priceChangeAfterMs` into the load); its last messages come once the faults are over.
 */
function liveHistory(
  rng: () => number,
  r: ResourcePlan,
  message: (r: ResourcePlan, status: Status, atMs: number | null, role?: MessageRole, attrs?: Partial<Attributes>) => PlannedMessage,
  at: (afterMs: number, messages: PlannedMessage[], lagMs?: number, wholeSecond?: boolean) => void,
  finish: Publication[],
  anotherAttribute: (r: ResourcePlan) => Partial<Attributes>,
  priceChangeAfterMs: number,
): void {
  const duplicateLater = (afterMs: number, m: PlannedMessage) => {
    if (rng() < 0.15) at(afterMs + between(rng, 1, 5) * SECOND, [{ ...m, msgId: `${m.eventId}.dup`, role: 'duplicate' }]);
  };
  let running = false;
  let t = rng() < 0.8 ? between(rng, 0, 3) * SECOND : between(rng, 10, 30) * SECOND;
  for (;;) {
    // Shortly before the price change: most are left running until the end, across it.
    if (t >= priceChangeAfterMs - 15 * SECOND) {
      if (!running && rng() < 0.8) at(Math.min(t, priceChangeAfterMs - 3 * SECOND), [message(r, 'RUNNING', null)]);
      break;
    }
    const lagMs = rng() < 0.4 ? between(rng, 1, 8) * SECOND : 0;
    const wholeSecond = rng() < 0.5;
    const roll = rng();
    let messages: PlannedMessage[];
    if (running && roll < 0.2) messages = [message(r, 'STOPPED', null), message(r, 'RUNNING', null)];
    else if (!running && roll < 0.15) messages = [message(r, 'RUNNING', null), message(r, 'STOPPED', null)];
    else {
      messages = [message(r, running ? pick(rng, ['STOPPED', 'STOPPING', 'FAILED'] as const) : 'RUNNING', null)];
      running = !running;
    }
    at(t, messages, lagMs, wholeSecond || messages.length > 1);
    for (const m of messages) duplicateLater(t, m);
    if (rng() < 0.1) at(t + between(rng, 1, 4) * SECOND, [message(r, 'RUNNING', null, 'mismatch', anotherAttribute(r))]);
    t += between(rng, 8, 25) * SECOND;
  }
  if (running && rng() < 0.5) finish.push({ afterMs: 0, messages: [message(r, pick(rng, ['STOPPED', 'FAILED'] as const), null)], lagMs: rng() < 0.5 ? between(rng, 1, 5) * SECOND : 0, wholeSecond: rng() < 0.5 });
  const deleted = message(r, 'DELETED', null);
  const junk = rng() < 0.3 ? [message(r, 'DELETED', null, 'mismatch-deleted', anotherAttribute(r))] : [];
  finish.push({ afterMs: 0, messages: [deleted, ...junk], lagMs: 0, wholeSecond: rng() < 0.5 });
}

/**
 * Only stamps whose fate does not depend on when the engine reads the message (see `fateOf`):
 * well within both limits, or far beyond one (the run lasts minutes, not a day).
 */
export function assertDecidableStamp(atMs: number, sentAtMs: number, eventId: string): void {
  const ahead = atMs - sentAtMs;
  const decidable = ahead > 0 ? ahead <= MAX_FUTURE_MS - MINUTE || ahead > MAX_FUTURE_MS + DAY : -ahead < MAX_PAST_MS - DAY || -ahead > MAX_PAST_MS;
  if (!decidable) throw new Error(`event ${eventId} is stamped ${ahead} ms from when it is sent: too close to a limit for the model to know its fate`);
}
