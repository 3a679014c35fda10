/** Metered usage: a meter per resource and UTC day, charged by difference or given back (a late stop). */
import { compareConsumptionOrder, drain, SplitPart } from './allocation';
import { Currency } from './currency';
import { Grant } from './grant';
import { LedgerEntry } from './ledger-entry';
import { Decimal, ZERO } from './money';
import { accept, applyDeltas, charge, checkChargeCurrency } from './wallet-charge';
import { DecisionContext, Refused } from './wallet-command';
import { WalletState } from './wallet-state';

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
    const payers = state.grants.filter((g) => (byGrant.get(g.id) ?? ZERO).greaterThan(ZERO)).sort(compareConsumptionOrder).reverse();
    const { taken, left } = drain(payers, delta.negated(), (g) => byGrant.get(g.id) as Decimal);
    split = taken.map((t) => ({ grantId: t.from.id, amount: t.amount }));
    for (const p of split) byGrant.set(p.grantId, (byGrant.get(p.grantId) as Decimal).minus(p.amount));
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
