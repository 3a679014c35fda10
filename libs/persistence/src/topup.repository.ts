import { Knex } from '@mikro-orm/postgresql';
import { Currency, Decimal, fitsDailyLimit, Settlement, SettlementView } from '@billing/domain';
import { TopupProvider } from './entities/topup-intent.entity';
import { changeToJson, factToJson, NewTopupIntent, toIntent, TopupIntent, TopupIntentRecord, truncateReason } from './topup-intent-row';
import { SqlRepository } from './sql-repository';

/** The statuses whose top-ups count against the daily limit: all but those that took no money and never will. */
const COUNTED_STATUSES = `status not in ('failed', 'expired')`;

/**
 * Top-up intents: starting one, finding it, and its settlement. Every settlement change is one `update ... where version = <read> returning *`:
 * of any number of concurrent writers exactly one gets the row back, the others get null, change
 * nothing, and start again from what the winner wrote. The one transaction (`createPending`'s,
 * to hold the daily limit against concurrent starts) makes no call outside the database, so none
 * is ever held across a call to a provider or to the engine. Reconciliation's claims are in
 * TopupReconciliationRepository, the mismatch report's reads in TopupReportRepository.
 */
export class TopupRepository extends SqlRepository {
  private async one(sql: string, bindings: readonly (string | null)[]): Promise<TopupIntent | null> {
    const rows = (await this.knex.raw(sql, bindings)).rows as TopupIntentRecord[];
    return rows.length ? toIntent(rows[0]) : null;
  }

  /**
   * Records a pending top-up started at `createdAt` (the time the provider was given: VNPAY's
   * vnp_CreateDate, which its querydr asks for), unless the organization's top-ups in its currency
   * started in the 24 hours before, with this one, would go past `dailyMax`: then nothing is
   * written and what was already started is returned. A transaction-scoped advisory lock per
   * organization and currency makes concurrent starts take their turns, so the limit holds.
   */
  async createPending(intent: NewTopupIntent, createdAt: Date, daily: { readonly dailyMax: Decimal; readonly windowMs: number }): Promise<{ created: TopupIntent } | { refused: Decimal }> {
    return this.knex.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`topup-daily:${intent.orgId}:${intent.currency}`]);
      const started = await this.startedSince(intent.orgId, intent.currency, new Date(createdAt.getTime() - daily.windowMs), trx);
      if (!fitsDailyLimit(started, intent.amount, daily.dailyMax)) return { refused: started };
      const rows = (
        await trx.raw(
          `insert into topup_intents (id, org_id, amount, currency, provider, provider_ref, status, created_at, updated_at, expires_at)
           values (?, ?, ?, ?, ?, ?, 'pending', ?, now(), ?) returning *`,
          [intent.id, intent.orgId, intent.amount.toFixed(), intent.currency, intent.provider, intent.providerRef, createdAt, intent.expiresAt],
        )
      ).rows as TopupIntentRecord[];
      return { created: toIntent(rows[0]) };
    });
  }

  /** What an organization started in `currency` since `since`, failed and expired top-ups left out. */
  async startedSince(orgId: string, currency: Currency, since: Date, knex: Knex | Knex.Transaction = this.knex): Promise<Decimal> {
    const rows = (await knex.raw(`select coalesce(sum(amount), 0)::text as total from topup_intents where org_id = ? and currency = ? and created_at > ? and ${COUNTED_STATUSES}`, [orgId, currency, since])).rows as { total: string }[];
    return new Decimal(rows[0].total);
  }

  findById(id: string): Promise<TopupIntent | null> {
    return this.one('select * from topup_intents where id = ?', [id]);
  }

  findByProviderRef(provider: TopupProvider, providerRef: string): Promise<TopupIntent | null> {
    return this.one('select * from topup_intents where provider = ? and provider_ref = ?', [provider, providerRef]);
  }

  findByCaptureRef(provider: TopupProvider, captureRef: string): Promise<TopupIntent | null> {
    return this.one('select * from topup_intents where provider = ? and capture_ref = ?', [provider, captureRef]);
  }

  /**
   * An auto top-up's intent, recorded before Stripe named its PaymentIntent (reference
   * `autotopup:<id>`), takes the PaymentIntent's id; null if it is not such an intent, or already
   * names another PaymentIntent.
   */
  async claimAutoTopupRef(id: string, paymentIntentId: string): Promise<TopupIntent | null> {
    const claimed = await this.one(`update topup_intents set provider_ref = ? where id = ? and provider = 'stripe' and provider_ref = 'autotopup:' || id::text returning *`, [paymentIntentId, id]);
    if (claimed) return claimed;
    const intent = await this.findById(id);
    return intent?.provider === 'stripe' && intent.providerRef === paymentIntentId ? intent : null;
  }

  /**
   * Stores a settlement the machine computed from `expectedVersion`, by one compare-and-set:
   * null if another writer got there first (the caller reloads and applies its fact again).
   * `settled_at` is the first time the status left pending.
   */
  saveSettlement(id: string, expectedVersion: number, settlement: Settlement, view: SettlementView): Promise<TopupIntent | null> {
    return this.one(
      `update topup_intents set settlement_facts = ?::jsonb, ledger_changes = ?::jsonb, status = ?, failure_reason = ?, capture_ref = coalesce(?, capture_ref),
         settled_at = case when ? = 'pending' then settled_at else coalesce(settled_at, now()) end, version = version + 1, updated_at = now()
       where id = ? and version = ? returning *`,
      [
        JSON.stringify(settlement.facts.map(factToJson)),
        JSON.stringify(settlement.changes.map(changeToJson)),
        view.status,
        view.reason === null ? null : truncateReason(view.reason),
        view.captureRef,
        view.status,
        id,
        String(expectedVersion),
      ],
    );
  }

  /** The engine confirmed the first `count` ledger changes (the first is the credit); never goes back. */
  async markChangesConfirmed(id: string, count: number): Promise<void> {
    await this.knex.raw(
      `update topup_intents set ledger_changes_confirmed = greatest(ledger_changes_confirmed, ?), credited_at = case when ? >= 1 then coalesce(credited_at, now()) else credited_at end where id = ?`,
      [count, count, id],
    );
  }

  /** The engine refused a change for good (not a passing failure): nothing past it is sent, no sweep retries it. */
  async markLedgerRefused(id: string, error: string): Promise<void> {
    await this.knex.raw('update topup_intents set credit_error = ? where id = ? and credit_error is null', [truncateReason(error), id]);
  }

  /**
   * Intents with ledger changes the engine has not confirmed and has not refused, last changed
   * at least `minAgeMs` ago (younger ones are probably still being sent by their webhook), oldest first.
   */
  async unsent(minAgeMs: number, limit: number): Promise<TopupIntent[]> {
    const rows = (
      await this.knex.raw(
        `select * from topup_intents
         where ledger_changes_confirmed < jsonb_array_length(ledger_changes) and credit_error is null
           and updated_at <= now() - (? * interval '1 millisecond')
         order by updated_at limit ?`,
        [minAgeMs, limit],
      )
    ).rows as TopupIntentRecord[];
    return rows.map(toIntent);
  }

  /**
   * A currency an organization has paid in that the engine has not credited yet (so the
   * wallet does not show it): a top-up in another currency would be refused at credit time.
   */
  async uncreditedCurrency(orgId: string): Promise<Currency | null> {
    const rows = (
      await this.knex.raw(
        `select currency from topup_intents where org_id = ? and credited_at is null and credit_error is null and jsonb_array_length(ledger_changes) > 0 order by updated_at limit 1`,
        [orgId],
      )
    ).rows as { currency: string }[];
    return rows.length ? (rows[0].currency as Currency) : null;
  }
}
