/** The wallet's state and what is read from it: balances, usable credit, the ledger invariant, pruning. */
import { Currency } from './currency';
import { canPayFor, Grant, newestGrant, topupInDebt } from './grant';
import { Decimal, roundToLedgerScale, sum, ZERO } from './money';

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

/** What the grants that may pay for `service` hold at `at`, less any debt. */
export function usableBalance(state: WalletState, service: string, at: Date): Decimal {
  let usable = ZERO;
  for (const g of state.grants) if (g.remaining.greaterThan(ZERO) && canPayFor(g, service, at)) usable = usable.plus(g.remaining);
  const debt = topupInDebt(state.grants);
  return debt ? usable.plus(debt.remaining) : usable;
}

/**
 * Admission (`authorize`): a resource may start when what is available for its service covers
 * `minRunwayMinutes` of its rate. Available is what the grants usable for the service hold (less
 * any debt) less everything the wallet holds for running GPUs (`held`: all of it, whatever the
 * service, since a hold may be drawn from any grant its resource can use). The cost of those
 * minutes is taken at the ledger's scale, like every balance it is compared with (an hourly rate
 * over 60 has no end of decimals).
 */
export function admission(
  state: WalletState,
  service: string,
  at: Date,
  ratePerHour: Decimal,
  minRunwayMinutes: number,
  held: Decimal = ZERO,
): { authorized: boolean; required: Decimal; usable: Decimal; available: Decimal } {
  const required = roundToLedgerScale(ratePerHour.times(minRunwayMinutes).dividedBy(60));
  const usable = usableBalance(state, service, at);
  const available = usable.minus(held);
  return { authorized: available.greaterThanOrEqualTo(required), required, usable, available };
}

/** Thresholds the total crossed downwards between two commits (at or above before, below after). */
export function lowBalanceCrossings(before: Decimal, after: Decimal, thresholds: readonly Decimal[]): Decimal[] {
  return thresholds.filter((t) => before.greaterThanOrEqualTo(t) && after.lessThan(t));
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
  return newestGrant(state.grants.filter((g) => g.kind === 'topup')) === grant;
}

export function assertLedgerInvariant(state: WalletState, ledgerTotal: Decimal): void {
  const total = totalOf(state);
  if (!total.equals(ledgerTotal)) {
    throw new Error(`invariant broken for ${state.orgId}: grants hold ${total.toFixed()} but the ledger sums to ${ledgerTotal.toFixed()}`);
  }
}
