import { allocate, compareConsumptionOrder, SplitPart } from './allocation';
import { Currency } from './currency';
import { canPayFor, Grant, GrantKind, isExpiredAt } from './grant';
import { LedgerEntry } from './ledger-entry';
import { Decimal, sum, ZERO } from './money';
import { DomainRefusalCode, Refusal, refusal } from './refusal';

/**
 * Everything the wallet actor needs to decide a command. Grants that are spent and can never
 * change again (remaining zero) may be left out; the totals are over the grants held here.
 */
export interface WalletState {
  readonly orgId: string;
  /** Set by the first credit; null for a wallet that never received one. */
  readonly currency: Currency | null;
  /** True once a top-up fixed the billing currency for good. */
  readonly currencyLocked: boolean;
  /** Seq of the last ledger entry. */
  readonly seq: number;
  readonly grants: readonly Grant[];
}

export function emptyWallet(orgId: string): WalletState {
  return { orgId, currency: null, currencyLocked: false, seq: 0, grants: [] };
}

export interface TopupCommand {
  readonly type: 'topup';
  readonly idempotencyKey: string;
  readonly amount: Decimal;
  readonly currency: Currency;
  readonly provider: string;
  readonly reference: string;
}

export interface GrantCommand {
  readonly type: 'grant';
  readonly idempotencyKey: string;
  readonly kind: Exclude<GrantKind, 'topup'>;
  readonly amount: Decimal;
  readonly currency: Currency;
  readonly service: string | null;
  readonly expiresAt: Date | null;
  readonly reference: string | null;
  /** Plan credit of a subscription that allows rollover (see Grant.rollover). */
  readonly rollover?: { readonly cap: Decimal; readonly periodMs: number } | null;
}

export interface DebitCommand {
  readonly type: 'debit';
  readonly idempotencyKey: string;
  readonly amount: Decimal;
  readonly service: string;
  readonly workspaceId: string;
  readonly resourceId: string | null;
  readonly description: string | null;
  /** When given, must be the wallet's currency. */
  readonly currency: Currency | null;
}

/** Takes back a credited top-up (payment failed later, or charged back): never an edit of history. */
export interface ReverseCommand {
  readonly type: 'reverse';
  readonly idempotencyKey: string;
  readonly amount: Decimal;
  readonly currency: Currency;
  /** `provider:reference` of the top-up being reversed: its grant pays first. */
  readonly reference: string;
  readonly reason: string;
}

export type WalletCommand = TopupCommand | GrantCommand | DebitCommand | ReverseCommand;

/** What the actor passes in: the clock reading for this command and an id source. */
export interface DecisionContext {
  readonly now: Date;
  readonly newId: () => string;
  readonly requestHash: string;
}

export interface Accepted {
  readonly ok: true;
  readonly state: WalletState;
  readonly entry: LedgerEntry;
}

export interface Refused {
  readonly ok: false;
  readonly refusal: Refusal;
}

export type Decision = Accepted | Refused;

export interface Balance {
  readonly plan: Decimal;
  readonly voucher: Decimal;
  readonly topup: Decimal;
  readonly total: Decimal;
}

export function balanceOf(state: WalletState): Balance {
  let plan = ZERO;
  let voucher = ZERO;
  let topup = ZERO;
  for (const g of state.grants) {
    if (g.kind === 'plan') plan = plan.plus(g.remaining);
    else if (g.kind === 'voucher') voucher = voucher.plus(g.remaining);
    else topup = topup.plus(g.remaining);
  }
  return { plan, voucher, topup, total: plan.plus(voucher).plus(topup) };
}

export function totalOf(state: WalletState): Decimal {
  return sum(state.grants.map((g) => g.remaining));
}

/** The pure decision: `(state, command, now) -> (state, entry)` or a refusal that changes nothing. */
export function decide(state: WalletState, command: WalletCommand, ctx: DecisionContext): Decision {
  switch (command.type) {
    case 'topup':
      return topup(state, command, ctx);
    case 'grant':
      return grant(state, command, ctx);
    case 'debit':
      return debit(state, command, ctx);
    case 'reverse':
      return reverse(state, command, ctx);
  }
}

/**
 * A reversal draws only on top-up credit (vouchers and plan credits are not the payer's money):
 * first the grant the reversed top-up created, then the other top-ups, and what they cannot
 * cover becomes debt.
 */
function reverse(state: WalletState, cmd: ReverseCommand, ctx: DecisionContext): Decision {
  const wrong = checkChargeCurrency(state, cmd.currency);
  if (wrong) return wrong;
  const topups = state.grants
    .filter((g) => g.kind === 'topup' && g.remaining.greaterThan(ZERO))
    .sort((a, b) => (a.sourceRef === cmd.reference ? -1 : b.sourceRef === cmd.reference ? 1 : a.createdAt.getTime() - b.createdAt.getTime()));
  const deltas = new Map<string, Decimal>();
  const split: SplitPart[] = [];
  let left = cmd.amount;
  for (const g of topups) {
    if (left.isZero()) break;
    const take = Decimal.min(g.remaining, left);
    deltas.set(g.id, take.negated());
    split.push({ grantId: g.id, amount: take.negated() });
    left = left.minus(take);
  }
  let grants = applyDeltas(state.grants, deltas);
  if (!left.isZero()) {
    const shortfall = charge({ ...state, grants: grants.filter((g) => g.kind === 'topup') }, left, '', ctx.now, ctx);
    const others = grants.filter((g) => g.kind !== 'topup');
    grants = [...others, ...shortfall.grants];
    for (const p of shortfall.split) {
      const i = split.findIndex((x) => x.grantId === p.grantId);
      if (i >= 0) split[i] = { grantId: p.grantId, amount: split[i].amount.plus(p.amount) };
      else split.push(p);
    }
  }
  const next: WalletState = { ...state, seq: state.seq + 1, grants };
  return accept(next, ctx, { type: 'reversal', amount: cmd.amount.negated(), split, idempotencyKey: cmd.idempotencyKey, reference: cmd.reference, description: cmd.reason });
}

function checkCreditCurrency(state: WalletState, currency: Currency): Refusal | null {
  if (state.currency === null || state.currency === currency) return null;
  return state.currencyLocked
    ? refusal(DomainRefusalCode.CURRENCY_LOCKED, `the billing currency is ${state.currency}, fixed by the first top-up; ${currency} is refused`)
    : refusal(DomainRefusalCode.CURRENCY_LOCKED, `the wallet already holds credit in ${state.currency}; the first top-up and every credit must be in ${state.currency}, ${currency} is refused`);
}

function topup(state: WalletState, cmd: TopupCommand, ctx: DecisionContext): Decision {
  const wrongCurrency = checkCreditCurrency(state, cmd.currency);
  if (wrongCurrency) return { ok: false, refusal: wrongCurrency };
  // The next top-up pays the debt first: the negative top-up grant is brought back to zero and
  // the new grant keeps what is left (or the rest of the debt, if the top-up is smaller).
  const debtor = state.grants.find((g) => g.kind === 'topup' && g.remaining.isNegative());
  const debt = debtor ? debtor.remaining.negated() : ZERO;
  const created: Grant = {
    id: ctx.newId(),
    kind: 'topup',
    amount: cmd.amount,
    remaining: cmd.amount.minus(debt),
    currency: cmd.currency,
    service: null,
    expiresAt: null,
    createdAt: ctx.now,
    sourceRef: `${cmd.provider}:${cmd.reference}`,
  };
  const split: SplitPart[] = [];
  let grants = state.grants;
  if (debtor) {
    split.push({ grantId: debtor.id, amount: debt });
    grants = grants.map((g) => (g === debtor ? { ...g, remaining: ZERO } : g));
  }
  split.push({ grantId: created.id, amount: created.remaining });
  const next: WalletState = { ...state, currency: cmd.currency, currencyLocked: true, seq: state.seq + 1, grants: [...grants, created] };
  return accept(next, ctx, {
    type: 'topup',
    amount: cmd.amount,
    split,
    idempotencyKey: cmd.idempotencyKey,
    reference: created.sourceRef,
  });
}

function grant(state: WalletState, cmd: GrantCommand, ctx: DecisionContext): Decision {
  const wrongCurrency = checkCreditCurrency(state, cmd.currency);
  if (wrongCurrency) return { ok: false, refusal: wrongCurrency };
  if (cmd.expiresAt !== null && cmd.expiresAt.getTime() <= ctx.now.getTime()) {
    return { ok: false, refusal: refusal(DomainRefusalCode.GRANT_ALREADY_EXPIRED, `expiresAt ${cmd.expiresAt.toISOString()} is not in the future`) };
  }
  const created: Grant = {
    id: ctx.newId(),
    kind: cmd.kind,
    amount: cmd.amount,
    remaining: cmd.amount,
    currency: cmd.currency,
    service: cmd.service,
    expiresAt: cmd.expiresAt,
    createdAt: ctx.now,
    sourceRef: cmd.reference,
    rollover: cmd.rollover ?? null,
  };
  const next: WalletState = { ...state, currency: cmd.currency, seq: state.seq + 1, grants: [...state.grants, created] };
  return accept(next, ctx, {
    type: 'grant',
    amount: cmd.amount,
    split: [{ grantId: created.id, amount: cmd.amount }],
    idempotencyKey: cmd.idempotencyKey,
    service: cmd.service,
    reference: cmd.reference,
  });
}

function checkChargeCurrency(state: WalletState, currency: Currency | null): Refused | null {
  if (state.currency === null) {
    return { ok: false, refusal: refusal(DomainRefusalCode.NO_BILLING_CURRENCY, 'the wallet has never been credited, so it has no billing currency to charge in') };
  }
  if (currency !== null && currency !== state.currency) {
    return { ok: false, refusal: refusal(DomainRefusalCode.CURRENCY_MISMATCH, `the wallet bills in ${state.currency}, not ${currency}`) };
  }
  return null;
}

/**
 * Draws `amount` for `service` from the grants in consumption order; what they cannot pay
 * becomes debt on top-up. Returns the new grants and the split (negative parts).
 */
function charge(state: WalletState, amount: Decimal, service: string, usageEndsAt: Date, ctx: DecisionContext): { grants: readonly Grant[]; split: SplitPart[] } {
  const { parts, shortfall } = allocate(state.grants, amount, service, usageEndsAt);
  const deltas = new Map<string, Decimal>(parts.map((p) => [p.grantId, p.amount]));
  let grants = state.grants;
  const split = [...parts];
  if (!shortfall.isZero()) {
    // Usage that happened is never lost: the rest becomes debt on one top-up grant (the one
    // already in debt, else the newest), or on a new empty top-up grant if there is none.
    const topups = grants.filter((g) => g.kind === 'topup');
    const debtor = topups.find((g) => g.remaining.isNegative()) ?? newest(topups);
    if (debtor) {
      deltas.set(debtor.id, (deltas.get(debtor.id) ?? ZERO).minus(shortfall));
      const existing = split.findIndex((p) => p.grantId === debtor.id);
      if (existing >= 0) split[existing] = { grantId: debtor.id, amount: split[existing].amount.minus(shortfall) };
      else split.push({ grantId: debtor.id, amount: shortfall.negated() });
    } else {
      const debtGrant: Grant = {
        id: ctx.newId(),
        kind: 'topup',
        amount: ZERO,
        remaining: shortfall.negated(),
        currency: state.currency as Currency,
        service: null,
        expiresAt: null,
        createdAt: ctx.now,
        sourceRef: 'debt',
      };
      grants = [...grants, debtGrant];
      split.push({ grantId: debtGrant.id, amount: shortfall.negated() });
    }
  }
  return { grants: applyDeltas(grants, deltas), split };
}

function applyDeltas(grants: readonly Grant[], deltas: ReadonlyMap<string, Decimal>): readonly Grant[] {
  if (deltas.size === 0) return grants;
  return grants.map((g) => {
    const delta = deltas.get(g.id);
    return delta === undefined ? g : { ...g, remaining: g.remaining.plus(delta) };
  });
}

function debit(state: WalletState, cmd: DebitCommand, ctx: DecisionContext): Decision {
  const wrong = checkChargeCurrency(state, cmd.currency);
  if (wrong) return wrong;
  const { grants, split } = charge(state, cmd.amount, cmd.service, ctx.now, ctx);
  const next: WalletState = { ...state, seq: state.seq + 1, grants };
  return accept(next, ctx, {
    type: 'debit',
    amount: cmd.amount.negated(),
    split,
    idempotencyKey: cmd.idempotencyKey,
    service: cmd.service,
    workspaceId: cmd.workspaceId,
    resourceId: cmd.resourceId,
    description: cmd.description,
  });
}

function newest(grants: readonly Grant[]): Grant | undefined {
  let best: Grant | undefined;
  for (const g of grants) if (!best || g.createdAt.getTime() >= best.createdAt.getTime()) best = g;
  return best;
}

type EntryFields = Pick<LedgerEntry, 'type' | 'amount' | 'split' | 'idempotencyKey'> &
  Partial<Pick<LedgerEntry, 'service' | 'workspaceId' | 'resourceId' | 'description' | 'reference' | 'usageMs' | 'usageUntil'>>;

function accept(next: WalletState, ctx: DecisionContext, fields: EntryFields): Accepted {
  const entry: LedgerEntry = {
    id: ctx.newId(),
    orgId: next.orgId,
    seq: next.seq,
    currency: next.currency as Currency,
    requestHash: ctx.requestHash,
    service: null,
    workspaceId: null,
    resourceId: null,
    description: null,
    reference: null,
    usageMs: null,
    usageUntil: null,
    ...fields,
    totalAfter: totalOf(next),
    at: ctx.now,
  };
  return { ok: true, state: next, entry };
}

/**
 * Writes off what is left on every grant expired at `now`: one `expire` entry per grant and
 * write-off (the wallet's version check, not the key, keeps it from being done twice).
 */
export function expireGrants(state: WalletState, ctx: Omit<DecisionContext, 'requestHash'>): { state: WalletState; entries: LedgerEntry[] } {
  const entries: LedgerEntry[] = [];
  let current = state;
  for (const g of state.grants) {
    if (g.kind === 'topup' || !isExpiredAt(g, ctx.now) || !g.remaining.greaterThan(ZERO)) continue;
    const carried = g.rollover ? Decimal.min(g.remaining, g.rollover.cap) : ZERO;
    if (carried.greaterThan(ZERO) && g.rollover && g.expiresAt) {
      // The carried part moves to a grant of its own for one more period; it does not roll again.
      const successor: Grant = {
        id: ctx.newId(),
        kind: 'plan',
        amount: carried,
        remaining: carried,
        currency: g.currency,
        service: g.service,
        expiresAt: new Date(g.expiresAt.getTime() + g.rollover.periodMs),
        createdAt: ctx.now,
        sourceRef: `rollover:${g.id}`,
        rollover: null,
      };
      // A grant rolls over once: credit given back to it later (a late stop's correction) is written off.
      current = {
        ...current,
        seq: current.seq + 1,
        grants: [...current.grants.map((x) => (x.id === g.id ? { ...x, remaining: x.remaining.minus(carried), rollover: null } : x)), successor],
      };
      entries.push(
        accept(current, { ...ctx, requestHash: '' }, {
          type: 'rollover',
          amount: ZERO,
          split: [{ grantId: g.id, amount: carried.negated() }, { grantId: successor.id, amount: carried }],
          idempotencyKey: `expire:${g.id}:rollover`,
          service: g.service,
          reference: g.id,
        }).entry,
      );
    }
    const writeOff = g.remaining.minus(carried);
    if (!writeOff.greaterThan(ZERO)) continue;
    current = {
      ...current,
      seq: current.seq + 1,
      grants: current.grants.map((x) => (x.id === g.id ? { ...x, remaining: ZERO } : x)),
    };
    entries.push(
      accept(current, { ...ctx, requestHash: '' }, {
        type: 'expire',
        amount: writeOff.negated(),
        split: [{ grantId: g.id, amount: writeOff.negated() }],
        // Keyed by the grant and the entry's place: a grant written off again (credit given back to
        // it after it expired) gets a key of its own.
        idempotencyKey: `expire:${g.id}:${current.seq}`,
        service: g.service,
        reference: g.id,
      }).entry,
    );
  }
  return { state: current, entries };
}

/**
 * The next instant the wallet must act without being asked: a grant with credit left expires,
 * or comes within `noticeMs` of its expiry without its notice sent yet.
 */
export function nextExpiry(state: WalletState, noticeMs = 0): Date | null {
  let next: number | null = null;
  for (const g of state.grants) {
    if (g.kind === 'topup' || g.expiresAt === null || !g.remaining.greaterThan(ZERO)) continue;
    const at = noticeMs > 0 && !g.expiryNoticeAt ? g.expiresAt.getTime() - noticeMs : g.expiresAt.getTime();
    if (next === null || at < next) next = at;
  }
  return next === null ? null : new Date(next);
}

/** Grants that expire within `noticeMs` with credit left and were not announced yet: marked as announced. */
export function expiringNotices(state: WalletState, now: Date, noticeMs: number): { state: WalletState; notices: Grant[] } {
  const due = (g: Grant) =>
    g.kind !== 'topup' && g.expiresAt !== null && !g.expiryNoticeAt && g.remaining.greaterThan(ZERO) &&
    g.expiresAt.getTime() > now.getTime() && g.expiresAt.getTime() - now.getTime() <= noticeMs;
  if (noticeMs <= 0 || !state.grants.some(due)) return { state, notices: [] };
  const notices: Grant[] = [];
  const grants = state.grants.map((g) => {
    if (!due(g)) return g;
    const noticed = { ...g, expiryNoticeAt: now };
    notices.push(noticed);
    return noticed;
  });
  return { state: { ...state, grants }, notices };
}

/**
 * Drops grants that are spent for good, so a long-lived wallet's state stays small. Grants in
 * `keep` (those a meter may give a correction back to) stay.
 */
export function pruneSpentGrants(state: WalletState, keep: ReadonlySet<string> = new Set()): WalletState {
  const live = state.grants.filter((g) => !g.remaining.isZero() || keep.has(g.id) || (g.kind === 'topup' && isNewestTopup(state, g)));
  return live.length === state.grants.length ? state : { ...state, grants: live };
}

function isNewestTopup(state: WalletState, grant: Grant): boolean {
  return newest(state.grants.filter((g) => g.kind === 'topup')) === grant;
}

export function assertLedgerInvariant(state: WalletState, ledgerTotal: Decimal): void {
  const total = totalOf(state);
  if (!total.equals(ledgerTotal)) {
    throw new Error(`invariant broken for ${state.orgId}: grants hold ${total.toFixed()} but the ledger sums to ${ledgerTotal.toFixed()}`);
  }
}

/** What a meter (one per resource and UTC day) has charged so far, and from which grants. */
export interface MeterState {
  readonly charged: Decimal;
  readonly usageMs: number;
  readonly until: Date | null;
  /** Entries written for this meter; the next entry's idempotency key is derived from it. */
  readonly entries: number;
  /** What each grant paid for this meter, net of corrections: where a correction goes back to. */
  readonly byGrant: ReadonlyMap<string, Decimal>;
}

export const EMPTY_METER: MeterState = { charged: ZERO, usageMs: 0, until: null, entries: 0, byGrant: new Map() };

/**
 * Sets what a resource owes for one day. The wallet charges the difference from what the meter
 * already charged, or gives back the excess (a late stop) to the grants that paid it, latest
 * in consumption order first. Sending the same value again changes nothing.
 */
export interface MeterCommand {
  readonly type: 'meter';
  readonly resourceId: string;
  /** The UTC day (YYYY-MM-DD) whose usage this meter charges. */
  readonly day: string;
  readonly workspaceId: string;
  readonly service: string;
  readonly currency: Currency;
  /** What the resource owes for its usage in that day, up to `until`. */
  readonly amount: Decimal;
  readonly usageMs: number;
  readonly until: Date;
}

export type MeterDecision = { ok: true; state: WalletState; meter: MeterState; entry: LedgerEntry | null } | Refused;

export function decideMeter(state: WalletState, meter: MeterState, cmd: MeterCommand, ctx: Omit<DecisionContext, 'requestHash'>): MeterDecision {
  const wrong = checkChargeCurrency(state, cmd.currency);
  if (wrong) return wrong;
  const delta = cmd.amount.minus(meter.charged);
  const until = meter.until === null || cmd.until.getTime() > meter.until.getTime() ? cmd.until : meter.until;
  if (delta.isZero()) {
    // Nothing to charge: the meter changes only if the usage it reports does (the same meter when not).
    return { ok: true, state, meter: cmd.usageMs === meter.usageMs ? meter : { ...meter, usageMs: cmd.usageMs, until }, entry: null };
  }
  const byGrant = new Map(meter.byGrant);
  let grants: readonly Grant[];
  let split: SplitPart[];
  if (delta.greaterThan(ZERO)) {
    ({ grants, split } = charge(state, delta, cmd.service, cmd.until, { ...ctx, requestHash: '' }));
    for (const p of split) byGrant.set(p.grantId, (byGrant.get(p.grantId) ?? ZERO).minus(p.amount));
  } else {
    split = [];
    let left = delta.negated();
    const payers = state.grants.filter((g) => (byGrant.get(g.id) ?? ZERO).greaterThan(ZERO)).sort(compareConsumptionOrder).reverse();
    for (const g of payers) {
      if (left.isZero()) break;
      const back = Decimal.min(left, byGrant.get(g.id) as Decimal);
      split.push({ grantId: g.id, amount: back });
      byGrant.set(g.id, (byGrant.get(g.id) as Decimal).minus(back));
      left = left.minus(back);
    }
    if (!left.isZero()) {
      // The meter's grants are always held (see pruneSpentGrants): this is a bug, not a refusal.
      throw new Error(`meter ${cmd.resourceId}: ${left.toFixed()} of a correction has no grant that paid it`);
    }
    grants = applyDeltas(state.grants, new Map(split.map((p) => [p.grantId, p.amount])));
  }
  for (const [id, amount] of byGrant) if (amount.isZero()) byGrant.delete(id);
  const next: WalletState = { ...state, seq: state.seq + 1, grants };
  const entries = meter.entries + 1;
  const { entry } = accept(next, { ...ctx, requestHash: '' }, {
    type: delta.greaterThan(ZERO) ? 'debit' : 'correction',
    amount: delta.negated(),
    split,
    idempotencyKey: `meter:${cmd.resourceId}:${cmd.day}:${entries}`,
    service: cmd.service,
    workspaceId: cmd.workspaceId,
    resourceId: cmd.resourceId,
    usageMs: cmd.usageMs - meter.usageMs,
    usageUntil: cmd.until,
  });
  return { ok: true, state: next, meter: { charged: cmd.amount, usageMs: cmd.usageMs, until, entries, byGrant }, entry };
}

/** What the grants that may pay for `service` hold at `at` (debt not subtracted). */
export function usableBalance(state: WalletState, service: string, at: Date): Decimal {
  let usable = ZERO;
  for (const g of state.grants) if (g.remaining.greaterThan(ZERO) && canPayFor(g, service, at)) usable = usable.plus(g.remaining);
  const debt = state.grants.find((g) => g.remaining.isNegative());
  return debt ? usable.plus(debt.remaining) : usable;
}

/** Thresholds the total crossed downwards between two commits (at or above before, below after). */
export function lowBalanceCrossings(before: Decimal, after: Decimal, thresholds: readonly Decimal[]): Decimal[] {
  return thresholds.filter((t) => before.greaterThanOrEqualTo(t) && after.lessThan(t));
}
