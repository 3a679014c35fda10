import { MikroORM } from '@mikro-orm/postgresql';
import { Currency, Decimal } from '@billing/domain';
import { TopupProvider, TopupStatus } from './entities/topup-intent.entity';

/** Kept of a failure reason or a refusal: enough to diagnose, bounded whatever a provider sends. */
export const MAX_TOPUP_REASON_CHARS = 500;

export interface NewTopupIntent {
  readonly id: string;
  readonly orgId: string;
  readonly amount: Decimal;
  readonly currency: Currency;
  readonly provider: TopupProvider;
  readonly providerRef: string;
}

export interface TopupIntent extends NewTopupIntent {
  readonly captureRef: string | null;
  readonly status: TopupStatus;
  readonly createdAt: Date;
  readonly settledAt: Date | null;
  readonly failureReason: string | null;
  readonly creditedAt: Date | null;
  readonly creditError: string | null;
  readonly reversalConfirmedAt: Date | null;
}


interface TopupIntentRecord {
  id: string;
  org_id: string;
  amount: string;
  currency: string;
  provider: string;
  provider_ref: string;
  capture_ref: string | null;
  status: string;
  created_at: Date | string;
  settled_at: Date | string | null;
  failure_reason: string | null;
  credited_at: Date | string | null;
  credit_error: string | null;
  reversal_confirmed_at: Date | string | null;
}

// MikroORM's pg driver hands timestamps back as strings.
const date = (v: Date | string) => (v instanceof Date ? v : new Date(v));
const maybeDate = (v: Date | string | null) => (v === null ? null : date(v));

function toIntent(r: TopupIntentRecord): TopupIntent {
  return {
    id: r.id,
    orgId: r.org_id,
    amount: new Decimal(r.amount),
    currency: r.currency as Currency,
    provider: r.provider as TopupProvider,
    providerRef: r.provider_ref,
    captureRef: r.capture_ref,
    status: r.status as TopupStatus,
    createdAt: date(r.created_at),
    settledAt: maybeDate(r.settled_at),
    failureReason: r.failure_reason,
    creditedAt: maybeDate(r.credited_at),
    creditError: r.credit_error,
    reversalConfirmedAt: maybeDate(r.reversal_confirmed_at),
  };
}

const reason = (text: string) => text.slice(0, MAX_TOPUP_REASON_CHARS);

/**
 * Top-up intents. Every status change is one `update ... where status = <expected> returning *`:
 * of any number of concurrent copies of a webhook exactly one gets the row back, the others get
 * null and change nothing. No method opens a transaction, so none is ever held across a call to
 * a provider or to the engine.
 */
export class TopupRepository {
  constructor(private readonly orm: MikroORM) {}

  private get knex() {
    return this.orm.em.getConnection().getKnex();
  }

  private async one(sql: string, bindings: readonly (string | null)[]): Promise<TopupIntent | null> {
    const rows = (await this.knex.raw(sql, bindings)).rows as TopupIntentRecord[];
    return rows.length ? toIntent(rows[0]) : null;
  }

  async createPending(intent: NewTopupIntent): Promise<TopupIntent> {
    const created = await this.one(
      `insert into topup_intents (id, org_id, amount, currency, provider, provider_ref, status, created_at)
       values (?, ?, ?, ?, ?, ?, 'pending', now()) returning *`,
      [intent.id, intent.orgId, intent.amount.toFixed(), intent.currency, intent.provider, intent.providerRef],
    );
    return created!;
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
   * The provider says the money was taken: pending (or failed earlier: a Stripe PaymentIntent
   * can succeed after a failed attempt, and money taken must be credited) -> succeeded.
   */
  markSucceeded(id: string, captureRef: string | null): Promise<TopupIntent | null> {
    return this.one(
      `update topup_intents set status = 'succeeded', settled_at = now(), failure_reason = null, capture_ref = coalesce(?, capture_ref)
       where id = ? and status in ('pending', 'failed') returning *`,
      [captureRef, id],
    );
  }

  /** The payment did not happen: pending -> failed; nothing was credited, nothing to take back. */
  markFailed(id: string, failureReason: string): Promise<TopupIntent | null> {
    return this.one(`update topup_intents set status = 'failed', settled_at = now(), failure_reason = ? where id = ? and status = 'pending' returning *`, [reason(failureReason), id]);
  }

  /** The money went back to the payer after the top-up succeeded: succeeded -> reversed (once). */
  markReversed(id: string, failureReason: string): Promise<TopupIntent | null> {
    return this.one(`update topup_intents set status = 'reversed', failure_reason = ? where id = ? and status = 'succeeded' returning *`, [reason(failureReason), id]);
  }

  /** The engine confirmed the credit; the first confirmation's time is kept. */
  async markCredited(id: string): Promise<void> {
    await this.knex.raw('update topup_intents set credited_at = coalesce(credited_at, now()) where id = ?', [id]);
  }

  /** The engine refused the credit for good (not a passing failure): no sweep retries it. */
  async markCreditRefused(id: string, error: string): Promise<void> {
    await this.knex.raw('update topup_intents set credit_error = ? where id = ? and credited_at is null', [reason(error), id]);
  }

  async markReversalConfirmed(id: string): Promise<void> {
    await this.knex.raw('update topup_intents set reversal_confirmed_at = coalesce(reversal_confirmed_at, now()) where id = ?', [id]);
  }

  /**
   * Intents whose credit or reversal the engine has not confirmed, settled at least `minAgeMs`
   * ago (younger ones are probably still being handled by their webhook), oldest first.
   */
  async unconfirmed(minAgeMs: number, limit: number): Promise<TopupIntent[]> {
    const rows = (
      await this.knex.raw(
        `select * from topup_intents
         where ((status = 'succeeded' and credited_at is null and credit_error is null) or (status = 'reversed' and reversal_confirmed_at is null))
           and settled_at <= now() - (? * interval '1 millisecond')
         order by settled_at limit ?`,
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
      await this.knex.raw(`select currency from topup_intents where org_id = ? and status = 'succeeded' and credited_at is null and credit_error is null order by settled_at limit 1`, [orgId])
    ).rows as { currency: string }[];
    return rows.length ? (rows[0].currency as Currency) : null;
  }
}
