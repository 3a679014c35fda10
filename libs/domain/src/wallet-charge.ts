/**
 * What the wallet's decisions share: the currency check before a charge, the drain of grants
 * that pays a charge (and books what they cannot pay as debt), and the ledger entry an accepted
 * change writes. Internal to `libs/domain`: not exported from its index.
 */
import { allocate, SplitPart } from './allocation';
import { Currency } from './currency';
import { Grant, newestGrant, topupInDebt } from './grant';
import { LedgerEntry } from './ledger-entry';
import { Decimal, ZERO } from './money';
import { DomainRefusalCode, refusal } from './refusal';
import { Accepted, DecisionContext, Refused } from './wallet-command';
import { totalOf, WalletState } from './wallet-state';

export function checkChargeCurrency(state: WalletState, currency: Currency | null): Refused | null {
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
export function charge(state: WalletState, amount: Decimal, service: string, usageEndsAt: Date, ctx: DecisionContext): { grants: readonly Grant[]; split: SplitPart[] } {
  const { parts, shortfall } = allocate(state.grants, amount, service, usageEndsAt);
  const deltas = new Map<string, Decimal>(parts.map((p) => [p.grantId, p.amount]));
  let grants = state.grants;
  const split = [...parts];
  if (!shortfall.isZero()) {
    // Usage that happened is never lost: the rest becomes debt on one top-up grant (the one
    // already in debt, else the newest), or on a new empty top-up grant if there is none.
    const debtor = topupInDebt(grants) ?? newestGrant(grants.filter((g) => g.kind === 'topup'));
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

export function applyDeltas(grants: readonly Grant[], deltas: ReadonlyMap<string, Decimal>): readonly Grant[] {
  if (deltas.size === 0) return grants;
  return grants.map((g) => {
    const delta = deltas.get(g.id);
    return delta === undefined ? g : { ...g, remaining: g.remaining.plus(delta) };
  });
}

type EntryFields = Pick<LedgerEntry, 'type' | 'amount' | 'split' | 'idempotencyKey'> &
  Partial<Pick<LedgerEntry, 'service' | 'workspaceId' | 'resourceId' | 'description' | 'reference' | 'usageMs' | 'usageUntil'>>;

export function accept(next: WalletState, ctx: DecisionContext, fields: EntryFields): Accepted {
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
