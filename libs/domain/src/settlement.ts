import { Decimal, sum, ZERO } from './money';

/**
 * How a paid top-up settles: one state machine, fed by what the payment provider tells us.
 *
 * Providers deliver their events late, twice, and in any order (a declined attempt's failure
 * after the retry's success, a refund before the success it refunds). So the state is not moved
 * event by event: it is derived from the SET of facts received about the payment, each fact
 * kept once under the provider's own id for it. Where a provider reports a cumulative figure
 * (Stripe's `amount_refunded`, a dispute's status), the fact carries it with the provider's time,
 * and the latest by the provider's clock wins, never the latest to arrive.
 *
 * What the ledger should hold for the payment is then
 *   owed = max(0, captured - refunded - taken by disputes)
 * and every new fact emits at most one ledger change: the difference between `owed` and what the
 * engine has already been told (credits minus reversals). Changes are only ever appended, each
 * with its own idempotency key, so history is never edited and a repeat is a no-op in the engine.
 *
 * Pure: no I/O, no clock; ids and times come in with the facts.
 */

/** Facts kept for one top-up; past it a fact is refused (no real payment comes near it). */
export const MAX_SETTLEMENT_FACTS = 200;

export type SettlementStatus =
  | 'pending'
  | 'succeeded'
  | 'failed'
  | 'expired'
  | 'partially_refunded'
  | 'refunded'
  | 'disputed'
  | 'dispute_won'
  | 'dispute_lost';
export const SETTLEMENT_STATUSES: readonly SettlementStatus[] = ['pending', 'succeeded', 'failed', 'expired', 'partially_refunded', 'refunded', 'disputed', 'dispute_won', 'dispute_lost'];

/**
 * Where a dispute stands. `inquiry` holds no money (Stripe's `warning_*`); `open` is money the
 * provider has withdrawn or holds while it decides; `lost` keeps it withdrawn; `won` gives it back.
 */
export type DisputeStage = 'inquiry' | 'open' | 'lost' | 'won';
/** When two reports of one dispute carry the same provider time, the later stage of a dispute's life wins. */
const STAGE_RANK: Readonly<Record<DisputeStage, number>> = { inquiry: 0, open: 1, lost: 2, won: 3 };

/** The provider-neutral inputs every provider event maps to (docs/payments.md has the table). */
export type SettlementInput =
  /** The money was taken: `amount` in the top-up's currency; `captureRef` the provider's id of the money movement. */
  | { readonly kind: 'captured'; readonly amount: Decimal; readonly captureRef: string | null }
  /** The payer approved (PayPal): nothing is taken yet, the capture is still to come. */
  | { readonly kind: 'approved' }
  /** One attempt failed; a later attempt of the same payment may still succeed. */
  | { readonly kind: 'attempt_failed'; readonly reason: string }
  /** The payment was closed unpaid (cancelled, denied for good). */
  | { readonly kind: 'canceled'; readonly reason: string }
  /** The payment window closed unpaid. */
  | { readonly kind: 'expired'; readonly reason: string }
  /**
   * A refund report: one refund (`refundId`, `amount`, `counts`: succeeded or under way, not
   * failed or cancelled) and/or the provider's cumulative `total` refunded on the payment.
   */
  | { readonly kind: 'refund'; readonly refundId: string | null; readonly amount: Decimal | null; readonly counts: boolean; readonly total: Decimal | null }
  /** A report of a dispute (chargeback, claim) of `amount` at `stage`. */
  | { readonly kind: 'dispute'; readonly disputeId: string; readonly amount: Decimal; readonly stage: DisputeStage }
  /**
   * The provider took money back outside a refund, without naming a dispute (PayPal's capture
   * reversal). It is the money side of a chargeback whose case, once reported as a dispute, is
   * what counts: reversals count only while no dispute is known.
   */
  | { readonly kind: 'reversal'; readonly reversalId: string; readonly amount: Decimal };

export interface SettlementFact {
  /** The provider's id of what it told us (its event id, or the object and its state): a fact is kept once. */
  readonly key: string;
  /** The provider's time for it, when it gives one: orders reports of the same refund total or dispute. */
  readonly at: Date | null;
  readonly input: SettlementInput;
}

/** A change the engine is told, in order; never edited once emitted. */
export interface LedgerChange {
  /** 1, 2, ...: its place in the top-up's history, fixed by the compare-and-set that stored it. */
  readonly seq: number;
  readonly kind: 'credit' | 'reversal';
  /** Positive, in the top-up's currency. */
  readonly amount: Decimal;
  /** `topup:<id>` for the first credit; `topup:<id>:<seq>` for a credit given back; `reverse:<id>:<seq>` for a reversal. */
  readonly idempotencyKey: string;
  /** The key of the fact that made it. */
  readonly cause: string;
  /** Why, in words, for the ledger entry (at most 200 characters, the engine's limit). */
  readonly reason: string;
}

export interface Settlement {
  readonly topupId: string;
  readonly facts: readonly SettlementFact[];
  readonly changes: readonly LedgerChange[];
}

/** What the facts say, whatever order they came in. */
export interface SettlementView {
  readonly status: SettlementStatus;
  readonly captured: Decimal;
  readonly refunded: Decimal;
  /** Withdrawn by open and lost disputes (and reversals, while no dispute is known). */
  readonly disputed: Decimal;
  /** What the ledger should hold for this payment: max(0, captured - refunded - disputed). */
  readonly owed: Decimal;
  /** The capture's provider id, once known. */
  readonly captureRef: string | null;
  /** Words for the status: why it failed, what was refunded or disputed. */
  readonly reason: string | null;
}

export type ApplyResult =
  | { readonly outcome: 'applied'; readonly settlement: Settlement; readonly view: SettlementView; readonly emitted: LedgerChange | null }
  /** A fact with this key is already held: nothing changes. */
  | { readonly outcome: 'duplicate'; readonly settlement: Settlement; readonly view: SettlementView }
  | { readonly outcome: 'refused'; readonly reason: string };

const MAX_REASON_CHARS = 200;

export function emptySettlement(topupId: string): Settlement {
  return { topupId, facts: [], changes: [] };
}

/** Credits minus reversals told to the engine so far. */
export function heldInLedger(changes: readonly LedgerChange[]): Decimal {
  return sum(changes.map((c) => (c.kind === 'credit' ? c.amount : c.amount.negated())));
}

/** Later by the provider's clock; a fact without a time is older than any with one. */
function compareAt(a: SettlementFact, b: SettlementFact): number {
  return (a.at?.getTime() ?? -Infinity) - (b.at?.getTime() ?? -Infinity);
}

/** The newest of some facts by provider time, ties to `tie` (then the key, so the choice never depends on arrival). */
function newest<T extends SettlementFact>(facts: readonly T[], tie: (a: T, b: T) => number): T | null {
  let best: T | null = null;
  for (const f of facts) {
    if (best === null) best = f;
    else {
      const c = compareAt(f, best) || tie(f, best) || (f.key > best.key ? 1 : f.key < best.key ? -1 : 0);
      if (c > 0) best = f;
    }
  }
  return best;
}

type Of<K extends SettlementInput['kind']> = SettlementFact & { readonly input: Extract<SettlementInput, { kind: K }> };
function ofKind<K extends SettlementInput['kind']>(facts: readonly SettlementFact[], kind: K): Of<K>[] {
  return facts.filter((f): f is Of<K> => f.input.kind === kind);
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const g = groups.get(k);
    if (g) g.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

const maxOf = (values: readonly Decimal[]) => values.reduce((m, v) => Decimal.max(m, v), ZERO);
const byAmount = (a: Decimal, b: Decimal) => a.comparedTo(b);

/**
 * Refunded: the provider's newest cumulative total, or the sum of the refunds it reported one by
 * one (each refund's newest report), whichever is larger: either alone may lag behind the other.
 */
function refundedOf(facts: readonly SettlementFact[]): Decimal {
  const refunds = ofKind(facts, 'refund');
  const totals = refunds.filter((f) => f.input.total !== null);
  const total = newest(totals, (a, b) => byAmount(a.input.total!, b.input.total!))?.input.total ?? ZERO;
  const single = refunds.filter((f) => f.input.refundId !== null && f.input.amount !== null);
  let oneByOne = ZERO;
  for (const reports of groupBy(single, (f) => f.input.refundId!).values()) {
    // A refund counted in one report and failed in a later one no longer counts; on a tie, counting wins.
    const last = newest(reports, (a, b) => Number(a.input.counts) - Number(b.input.counts) || byAmount(a.input.amount!, b.input.amount!))!;
    if (last.input.counts) oneByOne = oneByOne.plus(last.input.amount!);
  }
  return Decimal.max(total, oneByOne);
}

interface DisputeSummary {
  readonly taken: Decimal;
  readonly open: string[];
  readonly lost: string[];
  readonly won: string[];
}

/** Each dispute at its newest report; open and lost ones hold their amount, won ones nothing. */
function disputesOf(facts: readonly SettlementFact[]): DisputeSummary {
  const disputes = ofKind(facts, 'dispute');
  const summary: DisputeSummary = { taken: ZERO, open: [], lost: [], won: [] };
  let taken = ZERO;
  for (const [id, reports] of groupBy(disputes, (f) => f.input.disputeId)) {
    const last = newest(reports, (a, b) => STAGE_RANK[a.input.stage] - STAGE_RANK[b.input.stage] || byAmount(a.input.amount, b.input.amount))!;
    if (last.input.stage === 'open' || last.input.stage === 'lost') taken = taken.plus(last.input.amount);
    if (last.input.stage === 'open') summary.open.push(id);
    else if (last.input.stage === 'lost') summary.lost.push(id);
    else if (last.input.stage === 'won') summary.won.push(id);
  }
  if (disputes.length === 0) {
    // A reversal without a known dispute: each distinct one counts, at its largest report.
    for (const reports of groupBy(ofKind(facts, 'reversal'), (f) => f.input.reversalId).values()) {
      const amount = maxOf(reports.map((r) => r.input.amount));
      taken = taken.plus(amount);
      summary.lost.push(reports[0].input.reversalId);
    }
  }
  return { ...summary, taken };
}

function failureReason(facts: readonly SettlementFact[], kind: 'attempt_failed' | 'canceled' | 'expired'): string | null {
  const f = newest(ofKind(facts, kind), () => 0);
  return f ? f.input.reason : null;
}

/** The view of a set of facts: the same set gives the same view, whatever order it was built in. */
export function viewOf(facts: readonly SettlementFact[]): SettlementView {
  const captures = ofKind(facts, 'captured');
  const captured = maxOf(captures.map((f) => f.input.amount));
  // The capture reference of the largest capture, ties to the smallest key: the same whatever the order.
  const capture = [...captures].sort((a, b) => byAmount(b.input.amount, a.input.amount) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).find((f) => f.input.captureRef !== null);
  const refunded = Decimal.min(refundedOf(facts), captured);
  const disputes = disputesOf(facts);
  const disputed = disputes.taken;
  const owed = Decimal.max(ZERO, captured.minus(refunded).minus(disputed));
  const captureRef = capture?.input.captureRef ?? null;
  const base = { captured, refunded, disputed, owed, captureRef };
  if (captured.isZero()) {
    // Money taken is credited whatever else was said; until then the failures say why not.
    const failed = failureReason(facts, 'canceled') ?? failureReason(facts, 'attempt_failed');
    if (failed !== null) return { ...base, status: 'failed', reason: failed };
    const expired = failureReason(facts, 'expired');
    if (expired !== null) return { ...base, status: 'expired', reason: expired };
    return { ...base, status: 'pending', reason: null };
  }
  if (disputes.open.length > 0) return { ...base, status: 'disputed', reason: `dispute ${[...disputes.open].sort().join(', ')} open`.slice(0, MAX_REASON_CHARS) };
  if (disputes.lost.length > 0) return { ...base, status: 'dispute_lost', reason: `dispute ${[...disputes.lost].sort().join(', ')} lost`.slice(0, MAX_REASON_CHARS) };
  if (refunded.greaterThanOrEqualTo(captured)) return { ...base, status: 'refunded', reason: `refunded ${refunded.toFixed()} of ${captured.toFixed()}` };
  if (refunded.greaterThan(ZERO)) return { ...base, status: 'partially_refunded', reason: `refunded ${refunded.toFixed()} of ${captured.toFixed()}` };
  if (disputes.won.length > 0) return { ...base, status: 'dispute_won', reason: `dispute ${[...disputes.won].sort().join(', ')} won`.slice(0, MAX_REASON_CHARS) };
  return { ...base, status: 'succeeded', reason: null };
}

/**
 * What a refund may still take back of a payment: what was captured, less what was refunded and
 * what refunds still in flight ask (zero or less: nothing).
 */
export function refundableAmount(view: Pick<SettlementView, 'captured' | 'refunded'>, inFlight: Decimal): Decimal {
  return view.captured.minus(view.refunded).minus(inFlight);
}

export function viewOfSettlement(settlement: Settlement): SettlementView {
  return viewOf(settlement.facts);
}

function changeKey(topupId: string, kind: LedgerChange['kind'], seq: number): string {
  if (seq === 1) return `topup:${topupId}`;
  return kind === 'credit' ? `topup:${topupId}:${seq}` : `reverse:${topupId}:${seq}`;
}

function describeChange(kind: LedgerChange['kind'], fact: SettlementFact, view: SettlementView): string {
  const what = kind === 'credit' ? 'credit' : 'reversal';
  return `${what}: ${view.status}${view.reason ? ` (${view.reason})` : ''}, after ${fact.key}`.slice(0, MAX_REASON_CHARS);
}

/**
 * Adds a fact. A fact already held (same key) changes nothing. Otherwise the view of the new set
 * decides what the ledger should hold, and the difference from what the engine was told is
 * emitted as one change, appended to the history.
 */
export function applyFact(settlement: Settlement, fact: SettlementFact): ApplyResult {
  if (settlement.facts.some((f) => f.key === fact.key)) return { outcome: 'duplicate', settlement, view: viewOf(settlement.facts) };
  if (settlement.facts.length >= MAX_SETTLEMENT_FACTS) return { outcome: 'refused', reason: `a top-up keeps at most ${MAX_SETTLEMENT_FACTS} facts` };
  const facts = [...settlement.facts, fact];
  const view = viewOf(facts);
  const delta = view.owed.minus(heldInLedger(settlement.changes));
  let emitted: LedgerChange | null = null;
  if (!delta.isZero()) {
    const seq = settlement.changes.length + 1;
    const kind = delta.isPositive() ? 'credit' : 'reversal';
    // The ledger never held less than zero for a payment, so the first change is always a credit.
    if (seq === 1 && kind !== 'credit') throw new Error(`settlement ${settlement.topupId}: a first change must be a credit`);
    emitted = { seq, kind, amount: delta.abs(), idempotencyKey: changeKey(settlement.topupId, kind, seq), cause: fact.key, reason: describeChange(kind, fact, view) };
  }
  return { outcome: 'applied', settlement: { ...settlement, facts, changes: emitted ? [...settlement.changes, emitted] : settlement.changes }, view, emitted };
}
