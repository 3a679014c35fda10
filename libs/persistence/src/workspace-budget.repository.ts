import { Currency, Decimal, monthBounds, WorkspaceBudget, WorkspaceSpend } from '@billing/domain';
import { Knex } from '@mikro-orm/postgresql';
import { Shards } from './shards';

/** A workspace's cap as a `budgets.set` left it (null: removed). */
export interface BudgetWrite {
  readonly workspaceId: string;
  readonly cap: Decimal | null;
  readonly currency: Currency;
}

/** Writes caps in the commit of the batch that set them (WalletRepository.commit). */
export async function writeBudgets(db: Knex | Knex.Transaction, orgId: string, writes: readonly BudgetWrite[]): Promise<void> {
  for (const { workspaceId, cap, currency } of writes) {
    if (cap === null) {
      await db.raw('delete from workspace_budgets where org_id = ? and workspace_id = ?', [orgId, workspaceId]);
      continue;
    }
    await db.raw(
      `insert into workspace_budgets (org_id, workspace_id, monthly_cap, currency) values (?, ?, ?, ?)
       on conflict (org_id, workspace_id) do update set monthly_cap = excluded.monthly_cap, currency = excluded.currency, updated_at = now()`,
      [orgId, workspaceId, cap.toFixed(), currency],
    );
  }
}

/** Workspace budgets: the caps (settings, written in the commit of their batch) and the month's spend read back from the ledger. */
export class WorkspaceBudgetRepository {
  /** In each organization's shard, beside the ledger its spend is read from. */
  constructor(private readonly shards: Shards) {}

  /** The organization's caps, by workspace. */
  async caps(orgId: string): Promise<Map<string, WorkspaceBudget>> {
    const rows = (await (await this.shards.knexOf(orgId)).raw('select workspace_id, monthly_cap, currency from workspace_budgets where org_id = ?', [orgId])).rows as { workspace_id: string; monthly_cap: string; currency: string }[];
    return new Map(rows.map((r) => [r.workspace_id, { cap: new Decimal(r.monthly_cap), currency: r.currency as Currency }]));
  }

  /**
   * What each workspace was charged in `month` (UTC, YYYY-MM): its debits and meters less their
   * corrections, counted in the month their usage ends in, as the `usage` report counts them.
   */
  async spend(orgId: string, month: string): Promise<WorkspaceSpend> {
    const { startMs, endMs } = monthBounds(month);
    const rows = (
      await (await this.shards.knexOf(orgId)).raw(
        `select workspace_id, (-sum(amount))::text as spent from ledger_entries
         where org_id = ? and type in ('debit', 'correction') and workspace_id is not null
           and coalesce(usage_until, created_at) > ? and coalesce(usage_until, created_at) <= ?
         group by workspace_id`,
        [orgId, new Date(startMs), new Date(endMs)],
      )
    ).rows as { workspace_id: string; spent: string }[];
    return { month, byWorkspace: new Map(rows.map((r) => [r.workspace_id, new Decimal(r.spent)])) };
  }
}
