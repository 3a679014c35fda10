import { MikroORM } from '@mikro-orm/postgresql';
import { Currency, Decimal } from '@billing/domain';
import { TopupRefundStatus } from './entities/topup-refund.entity';
import { MAX_TOPUP_REASON_CHARS, TopupIntent, TopupIntentRecord, toIntent } from './topup-intent-row';

export interface TopupRefund {
  readonly id: string;
  readonly topupId: string;
  readonly idempotencyKey: string;
  /** What the operator asked: null for all that was left. */
  readonly requestedAmount: Decimal | null;
  readonly amount: Decimal;
  readonly currency: Currency;
  readonly reason: string;
  readonly operator: string;
  readonly requestId: string;
  readonly status: TopupRefundStatus;
  readonly providerRefundId: string | null;
  readonly providerStatus: string | null;
  readonly error: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

interface TopupRefundRecord {
  id: string;
  topup_id: string;
  idempotency_key: string;
  requested_amount: string | null;
  amount: string;
  currency: string;
  reason: string;
  operator: string;
  request_id: string;
  status: string;
  provider_refund_id: string | null;
  provider_status: string | null;
  error: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const date = (v: Date | string) => (v instanceof Date ? v : new Date(v));

function toRefund(r: TopupRefundRecord): TopupRefund {
  return {
    id: r.id,
    topupId: r.topup_id,
    idempotencyKey: r.idempotency_key,
    requestedAmount: r.requested_amount === null ? null : new Decimal(r.requested_amount),
    amount: new Decimal(r.amount),
    currency: r.currency as Currency,
    reason: r.reason,
    operator: r.operator,
    requestId: r.request_id,
    status: r.status as TopupRefundStatus,
    providerRefundId: r.provider_refund_id,
    providerStatus: r.provider_status,
    error: r.error,
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
  };
}

export interface NewTopupRefund {
  readonly id: string;
  readonly topupId: string;
  readonly idempotencyKey: string;
  readonly requestedAmount: Decimal | null;
  readonly reason: string;
  readonly operator: string;
  readonly requestId: string;
}

export type RefundReservation<R> =
  | { readonly kind: 'unknown_topup' }
  /** A refund with this key was asked for before: it, whatever its state. */
  | { readonly kind: 'existing'; readonly refund: TopupRefund; readonly intent: TopupIntent }
  | { readonly kind: 'refused'; readonly refusal: R; readonly intent: TopupIntent }
  | { readonly kind: 'reserved'; readonly refund: TopupRefund; readonly intent: TopupIntent };

/**
 * Operator refunds of top-ups. A refund is reserved before its provider is called, in one short
 * transaction that locks its top-up's row (`for update`), so that two refunds asked at once are
 * decided one after the other, each seeing the other's amount in flight: together they never ask
 * the provider for more than is left. No call leaves the database inside it.
 */
export class TopupRefundRepository {
  constructor(private readonly orm: MikroORM) {}

  private get knex() {
    return this.orm.em.getConnection().getKnex();
  }

  /**
   * Reserves a refund: the existing one with the same key if any; otherwise `decide` (pure, given
   * the locked top-up and the amount of its refunds still in flight) says how much, or why not.
   */
  reserve<R>(refund: NewTopupRefund, decide: (intent: TopupIntent, inFlight: Decimal) => { amount: Decimal } | { refusal: R }): Promise<RefundReservation<R>> {
    return this.knex.transaction(async (trx) => {
      const topups = (await trx.raw('select * from topup_intents where id = ? for update', [refund.topupId])).rows as TopupIntentRecord[];
      if (topups.length === 0) return { kind: 'unknown_topup' as const };
      const intent = toIntent(topups[0]);
      const existing = (await trx.raw('select * from topup_refunds where topup_id = ? and idempotency_key = ?', [refund.topupId, refund.idempotencyKey])).rows as TopupRefundRecord[];
      if (existing.length > 0) return { kind: 'existing' as const, refund: toRefund(existing[0]), intent };
      const flying = (await trx.raw(`select coalesce(sum(amount), 0)::text as total from topup_refunds where topup_id = ? and status = 'requested'`, [refund.topupId])).rows as { total: string }[];
      const decision = decide(intent, new Decimal(flying[0].total));
      if ('refusal' in decision) return { kind: 'refused' as const, refusal: decision.refusal, intent };
      const rows = (
        await trx.raw(
          `insert into topup_refunds (id, topup_id, idempotency_key, requested_amount, amount, currency, reason, operator, request_id, status)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'requested') returning *`,
          [refund.id, refund.topupId, refund.idempotencyKey, refund.requestedAmount?.toFixed() ?? null, decision.amount.toFixed(), intent.currency, refund.reason, refund.operator, refund.requestId],
        )
      ).rows as TopupRefundRecord[];
      return { kind: 'reserved' as const, refund: toRefund(rows[0]), intent };
    });
  }

  /** The provider took it (`providerStatus` its word for where it stands); its fact is in the settlement. */
  async markSucceeded(id: string, providerRefundId: string, providerStatus: string): Promise<TopupRefund> {
    const rows = (await this.knex.raw(`update topup_refunds set status = 'succeeded', provider_refund_id = ?, provider_status = ?, error = null, updated_at = now() where id = ? returning *`, [providerRefundId, providerStatus, id])).rows as TopupRefundRecord[];
    return toRefund(rows[0]);
  }

  /** The provider refused it for good: what it said. A refund still `requested` may be retried with its key. */
  async markFailed(id: string, error: string): Promise<TopupRefund> {
    const rows = (await this.knex.raw(`update topup_refunds set status = 'failed', error = ?, updated_at = now() where id = ? and status = 'requested' returning *`, [error.slice(0, MAX_TOPUP_REASON_CHARS), id])).rows as TopupRefundRecord[];
    return rows.length ? toRefund(rows[0]) : (await this.findById(id))!;
  }

  /** A failure that may pass (the provider unreachable): kept for whoever retries with the same key. */
  async noteError(id: string, error: string): Promise<void> {
    await this.knex.raw(`update topup_refunds set error = ?, updated_at = now() where id = ? and status = 'requested'`, [error.slice(0, MAX_TOPUP_REASON_CHARS), id]);
  }

  async findById(id: string): Promise<TopupRefund | null> {
    const rows = (await this.knex.raw('select * from topup_refunds where id = ?', [id])).rows as TopupRefundRecord[];
    return rows.length ? toRefund(rows[0]) : null;
  }

  async listForTopup(topupId: string): Promise<TopupRefund[]> {
    const rows = (await this.knex.raw('select * from topup_refunds where topup_id = ? order by created_at, id', [topupId])).rows as TopupRefundRecord[];
    return rows.map(toRefund);
  }
}
