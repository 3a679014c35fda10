/**
 * Workspace budgets inside one organization wallet: a monthly cap per workspace, the spend of the
 * UTC calendar month against it, and the 80% / 100% marks. Pure: the wallet actor keeps the spend
 * and the caps in memory and asks these rules.
 */
import { Currency, minorUnits } from './currency';
import { LedgerEntry } from './ledger-entry';
import { Decimal, ZERO } from './money';
import { Refusal, refusal } from './refusal';

/** The marks announced as `workspace_budget_reached`, in percent of the cap. */
export const BUDGET_THRESHOLDS = ['80', '100'] as const;
export type BudgetThreshold = (typeof BUDGET_THRESHOLDS)[number];

/** Workspaces with a cap per organization at most: one more is refused (`BUDGET_LIMIT`). */
export const MAX_WORKSPACE_BUDGETS = 1000;

export interface WorkspaceBudget {
  readonly cap: Decimal;
  readonly currency: Currency;
}

/** Where a workspace stands against its cap this month. */
export interface BudgetStanding {
  /** The highest mark the spend has reached, or null below 80%. */
  readonly reached: BudgetThreshold | null;
  /** The cap is used up (spent >= cap): launches in the workspace are refused. */
  readonly exhausted: boolean;
  /** What is left of the cap, never below zero. */
  readonly remaining: Decimal;
}

/** The level of a mark: `cap * threshold / 100`. */
function level(cap: Decimal, threshold: BudgetThreshold): Decimal {
  return cap.times(threshold).dividedBy(100);
}

export function budgetStanding(spent: Decimal, cap: Decimal): BudgetStanding {
  const exhausted = spent.greaterThanOrEqualTo(cap);
  const reached = [...BUDGET_THRESHOLDS].reverse().find((t) => spent.greaterThanOrEqualTo(level(cap, t))) ?? null;
  return { reached, exhausted, remaining: exhausted ? ZERO : cap.minus(spent) };
}

/** The marks a charge takes the spend over, lowest first: each once per upward crossing. */
export function budgetCrossings(before: Decimal, after: Decimal, cap: Decimal): BudgetThreshold[] {
  return BUDGET_THRESHOLDS.filter((t) => before.lessThan(level(cap, t)) && after.greaterThanOrEqualTo(level(cap, t)));
}

/** The UTC calendar month of an instant, `YYYY-MM`. */
export function utcMonth(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/** The first instant of a UTC month and of the next one. */
export function monthBounds(month: string): { readonly startMs: number; readonly endMs: number } {
  const [y, m] = month.split('-').map(Number);
  return { startMs: Date.UTC(y, m - 1, 1), endMs: Date.UTC(y, m, 1) };
}

/**
 * What an entry charges a workspace and in which month, or null if it charges none. Charges are
 * debits and meters (`debit`) and their give-backs (`correction`, negative) that name a workspace;
 * the month is that of the usage's end (else the entry's time), as the `usage` report counts it.
 */
export function workspaceCharge(entry: LedgerEntry): { readonly workspaceId: string; readonly month: string; readonly amount: Decimal } | null {
  if ((entry.type !== 'debit' && entry.type !== 'correction') || entry.workspaceId === null) return null;
  return { workspaceId: entry.workspaceId, month: utcMonth((entry.usageUntil ?? entry.at).getTime() - 1), amount: entry.amount.negated() };
}

/** Month-to-date spend per workspace, in the wallet's currency. */
export interface WorkspaceSpend {
  readonly month: string;
  readonly byWorkspace: ReadonlyMap<string, Decimal>;
}

/** The spend of `workspaceId` in `month` (zero once the month has turned). */
export function spentIn(spend: WorkspaceSpend, workspaceId: string, month: string): Decimal {
  return spend.month === month ? (spend.byWorkspace.get(workspaceId) ?? ZERO) : ZERO;
}

/** The spend after `entries`, in the month of `nowMs`: a new month starts from zero. */
export function spendAfter(spend: WorkspaceSpend, entries: readonly LedgerEntry[], nowMs: number): WorkspaceSpend {
  const month = utcMonth(nowMs);
  const byWorkspace = new Map(spend.month === month ? spend.byWorkspace : []);
  for (const e of entries) {
    const c = workspaceCharge(e);
    if (c && c.month === month) byWorkspace.set(c.workspaceId, (byWorkspace.get(c.workspaceId) ?? ZERO).plus(c.amount));
  }
  return { month, byWorkspace };
}

/**
 * May this cap be set on a wallet billing in `walletCurrency`: caps are in the wallet's currency
 * (so a wallet that has none yet has no caps), in its minor unit, and at most
 * MAX_WORKSPACE_BUDGETS workspaces per organization have one.
 */
export function budgetCapRefusal(walletCurrency: Currency | null, requested: Currency | null, cap: Decimal, isNew: boolean, count: number): Refusal | null {
  if (walletCurrency === null) return refusal('NO_BILLING_CURRENCY', 'the wallet has never been credited: a cap is in its billing currency, which it does not have yet');
  if (requested !== null && requested !== walletCurrency) return refusal('CURRENCY_MISMATCH', `the wallet bills in ${walletCurrency}; a cap in ${requested} is refused`);
  if (cap.decimalPlaces() > minorUnits(walletCurrency)) return refusal('TOO_MANY_DECIMALS', `a cap in ${walletCurrency} has at most ${minorUnits(walletCurrency)} decimals`);
  if (isNew && count >= MAX_WORKSPACE_BUDGETS) return refusal('BUDGET_LIMIT', `an organization caps at most ${MAX_WORKSPACE_BUDGETS} workspaces; remove one first`);
  return null;
}
