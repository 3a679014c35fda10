import { TopupProvider } from './entities/topup-intent.entity';
import { toIntent, TopupIntent, TopupIntentRecord, truncateReason } from './topup-intent-row';
import { SqlRepository } from './sql-repository';

/** Pending top-ups of one provider, for the metrics. */
export interface PendingSummary {
  readonly provider: TopupProvider;
  readonly pending: number;
  /** How long the oldest has been pending, in seconds (0 when none is). */
  readonly oldestSeconds: number;
  /** Those pending longer than the reconciliation's threshold. */
  readonly overdue: number;
}

/**
 * The reconciliation job's side of `topup_intents`: claiming pending top-ups to ask their
 * provider about, releasing them with what came of it, and the pending figures for the metrics.
 */
export class TopupReconciliationRepository extends SqlRepository {
  /**
   * Claims up to `limit` top-ups pending for at least `afterMs` that are due (never asked, or
   * their `reconcile_at` passed) and that no gateway holds: each is leased for `leaseMs`. `for
   * update skip locked` lets gateways claiming at the same moment take different rows, and the
   * lease keeps the rows from others once this statement commits. The version is not touched:
   * a webhook settling a claimed row meanwhile wins its compare-and-set as usual.
   */
  async claimForReconciliation(afterMs: number, leaseMs: number, limit: number): Promise<TopupIntent[]> {
    const rows = (
      await this.knex.raw(
        `with due as (
           select id from topup_intents
            where status = 'pending' and created_at <= now() - (? * interval '1 millisecond')
              and coalesce(reconcile_at, '-infinity') <= now() and coalesce(reconcile_lease_until, '-infinity') <= now()
            order by coalesce(reconcile_at, created_at), id
            limit ? for update skip locked)
         update topup_intents t set reconcile_lease_until = now() + (? * interval '1 millisecond'), reconcile_attempts = t.reconcile_attempts + 1
           from due where t.id = due.id
         returning t.*`,
        [afterMs, limit, leaseMs],
      )
    ).rows as TopupIntentRecord[];
    return rows.map(toIntent);
  }

  /** Ends a claim: what the provider's answer came to, and when to ask again (if it is still pending then). */
  async releaseReconciliation(id: string, outcome: string, next: Date): Promise<void> {
    await this.knex.raw('update topup_intents set reconcile_lease_until = null, reconciled_at = now(), reconcile_outcome = ?, reconcile_at = ? where id = ?', [truncateReason(outcome), next, id]);
  }

  /** Pending top-ups per provider: how many, how old the oldest, how many past `overdueMs`. */
  async pendingSummary(overdueMs: number): Promise<PendingSummary[]> {
    const rows = (
      await this.knex.raw(
        `select provider, count(*)::int as pending, coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as oldest_seconds,
                (count(*) filter (where created_at <= now() - (? * interval '1 millisecond')))::int as overdue
           from topup_intents where status = 'pending' group by provider`,
        [overdueMs],
      )
    ).rows as { provider: TopupProvider; pending: number; oldest_seconds: number; overdue: number }[];
    return rows.map((r) => ({ provider: r.provider, pending: Number(r.pending), oldestSeconds: Math.max(0, Number(r.oldest_seconds)), overdue: Number(r.overdue) }));
  }
}
