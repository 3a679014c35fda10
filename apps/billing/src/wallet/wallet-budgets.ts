/**
 * Workspace budgets as the wallet actor keeps them: the caps (settings) and the month-to-date spend
 * of each workspace, read on load and moved by each committed batch, so `authorize` and the
 * 80% / 100% announcements cost no query.
 */
import { eventMessage, Subjects } from '@billing/contracts';
import {
  budgetCapRefusal,
  budgetCrossings,
  budgetStanding,
  Currency,
  Decimal,
  LedgerEntry,
  Refusal,
  spendAfter,
  spentIn,
  toDisplay,
  toExact,
  utcMonth,
  WorkspaceBudget,
  WorkspaceSpend,
} from '@billing/domain';
import { OutboxMessage } from '@billing/persistence';

export interface BudgetBook {
  readonly caps: ReadonlyMap<string, WorkspaceBudget>;
  /** As committed: the batch being decided adds its own entries (spendAfter). */
  readonly spend: WorkspaceSpend;
}

/** The cap of a workspace if it counts: one in the wallet's currency (a wallet's currency never changes once set). */
function capOf(book: BudgetBook, workspaceId: string, currency: Currency | null): WorkspaceBudget | null {
  const budget = book.caps.get(workspaceId);
  return budget && budget.currency === currency ? budget : null;
}

/** Why a `budgets.set` is refused on this book, or null. */
export function budgetSetRefusal(book: BudgetBook, currency: Currency | null, workspaceId: string, cap: Decimal | null, requested: Currency | null): Refusal | null {
  if (cap === null) return null;
  return budgetCapRefusal(currency, requested, cap, !book.caps.has(workspaceId), book.caps.size);
}

/** A workspace's standing for `authorize`, after the entries decided so far in the batch; null when it has no cap. */
export function budgetCheck(book: BudgetBook, currency: Currency | null, workspaceId: string, entries: readonly LedgerEntry[], now: Date): { exhausted: boolean; reason: string; budget: object } | null {
  const budget = capOf(book, workspaceId, currency);
  if (!budget) return null;
  const month = utcMonth(now.getTime());
  const spent = spentIn(spendAfter(book.spend, entries, now.getTime()), workspaceId, month);
  const standing = budgetStanding(spent, budget.cap);
  return {
    exhausted: standing.exhausted,
    reason: `workspace ${workspaceId} has spent ${toExact(spent)} ${budget.currency} of its monthly cap of ${toExact(budget.cap)} ${budget.currency} in ${month}`,
    budget: { workspaceId, month, cap: toExact(budget.cap), spent: toExact(spent), remaining: toExact(standing.remaining), currency: budget.currency, reached: standing.reached },
  };
}

/** `budgets.get`: every capped workspace, and every workspace charged this month, against its cap. */
export function budgetsView(book: BudgetBook, currency: Currency | null, now: Date): object {
  const month = utcMonth(now.getTime());
  const ids = [...new Set([...book.caps.keys(), ...(book.spend.month === month ? book.spend.byWorkspace.keys() : [])])].sort();
  const show = (d: Decimal) => (currency ? toDisplay(d, currency) : toExact(d));
  return {
    ok: true,
    currency,
    month,
    budgets: ids.map((workspaceId) => {
      const spent = spentIn(book.spend, workspaceId, month);
      const budget = book.caps.get(workspaceId) ?? null;
      const standing = budget ? budgetStanding(spent, budget.cap) : null;
      return {
        workspaceId,
        cap: budget ? toExact(budget.cap) : null,
        capDisplay: budget ? show(budget.cap) : null,
        spentThisMonth: toExact(spent),
        spentDisplay: show(spent),
        remaining: standing ? toExact(standing.remaining) : null,
        reached: standing?.reached ?? null,
        exhausted: standing?.exhausted ?? false,
      };
    }),
  };
}

/** `workspace_budget_reached` for each mark a batch's charges took a workspace over, once per crossing. */
export function budgetEvents(subjects: Subjects, orgId: string, book: BudgetBook, currency: Currency | null, entries: readonly LedgerEntry[], now: Date): OutboxMessage[] {
  if (currency === null) return [];
  const month = utcMonth(now.getTime());
  const after = spendAfter(book.spend, entries, now.getTime());
  const charged = new Set(entries.flatMap((e) => (e.workspaceId === null ? [] : [e.workspaceId])));
  const events: OutboxMessage[] = [];
  for (const workspaceId of charged) {
    const budget = capOf(book, workspaceId, currency);
    if (!budget) continue;
    const spentAfter = spentIn(after, workspaceId, month);
    for (const threshold of budgetCrossings(spentIn(book.spend, workspaceId, month), spentAfter, budget.cap)) {
      events.push(
        eventMessage(subjects, orgId, 'workspace_budget_reached', { orgId, workspaceId, threshold, spent: toExact(spentAfter), cap: toExact(budget.cap), currency, month, at: now.toISOString() }),
      );
    }
  }
  return events;
}
