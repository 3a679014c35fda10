import { Currency, Decimal, VoucherCodeTerms } from '@billing/domain';
import { MikroORM } from '@mikro-orm/postgresql';
import { partitionCondition, PartitionFilter } from './partitions';

/** A stored code: its terms and how often it has been redeemed. */
export interface VoucherCode extends VoucherCodeTerms {
  readonly redemptions: number;
}

export interface Redemption {
  readonly code: string;
  readonly orgId: string;
  readonly requestKey: string;
  readonly status: 'reserved' | 'granted';
  readonly createdAt: Date;
}

/** Why a redemption is refused; each is an error code of the reply. */
export type RedemptionRefusal = 'UNKNOWN_VOUCHER_CODE' | 'VOUCHER_CAMPAIGN_ENDED' | 'VOUCHER_EXPIRED' | 'VOUCHER_EXHAUSTED' | 'VOUCHER_ALREADY_REDEEMED';

export type Reservation =
  | { readonly kind: 'reserved' | 'replay'; readonly voucher: VoucherCode; readonly redemption: Redemption }
  | { readonly kind: 'refused'; readonly code: RedemptionRefusal; readonly voucher: VoucherCode | null };

interface CodeRecord {
  code: string;
  amount: string;
  currency: string;
  service: string | null;
  expires_at: Date | string | null;
  expires_after_days: number | null;
  max_redemptions: number;
  redemptions: number;
  campaign_ends_at: Date | string | null;
}

const date = (v: Date | string | null) => (v === null ? null : new Date(v));

function toVoucher(r: CodeRecord): VoucherCode {
  return {
    code: r.code,
    amount: new Decimal(r.amount),
    currency: r.currency as Currency,
    service: r.service,
    expiresAt: date(r.expires_at),
    expiresAfterDays: r.expires_after_days,
    maxRedemptions: r.max_redemptions,
    redemptions: r.redemptions,
    campaignEndsAt: date(r.campaign_ends_at),
  };
}

function toRedemption(r: { code: string; org_id: string; request_key: string; status: string; created_at: Date | string }): Redemption {
  return { code: r.code, orgId: r.org_id, requestKey: r.request_key, status: r.status as Redemption['status'], createdAt: new Date(r.created_at) };
}

export class VoucherCodeExistsError extends Error {}

/** Voucher codes; the maximum holds under any number of concurrent redemptions (one conditional update). */
export class VoucherRepository {
  constructor(private readonly orm: MikroORM) {}

  private get knex() {
    return this.orm.em.getConnection().getKnex();
  }

  async create(v: VoucherCodeTerms): Promise<VoucherCode> {
    try {
      const rows = (
        await this.knex.raw(
          `insert into voucher_codes (code, amount, currency, service, expires_at, expires_after_days, max_redemptions, campaign_ends_at)
           values (?, ?, ?, ?, ?, ?, ?, ?) returning *`,
          [v.code, v.amount.toFixed(), v.currency, v.service, v.expiresAt, v.expiresAfterDays, v.maxRedemptions, v.campaignEndsAt],
        )
      ).rows as CodeRecord[];
      return toVoucher(rows[0]);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new VoucherCodeExistsError(`voucher code ${v.code} exists already`);
      throw error;
    }
  }

  /**
   * Counts a redemption against the code, once per organization, in one transaction. The same
   * request again (same key) is a replay of the first; another request for a code the
   * organization already redeemed is refused.
   */
  async reserve(code: string, orgId: string, requestKey: string, now: Date): Promise<Reservation> {
    return this.knex.transaction(async (trx) => {
      const codes = (await trx.raw('select * from voucher_codes where code = ?', [code])).rows as CodeRecord[];
      if (codes.length === 0) return { kind: 'refused', code: 'UNKNOWN_VOUCHER_CODE', voucher: null };
      const voucher = toVoucher(codes[0]);
      const previous = (await trx.raw('select * from voucher_redemptions where code = ? and org_id = ?', [code, orgId])).rows;
      if (previous.length > 0) {
        const redemption = toRedemption(previous[0]);
        return redemption.requestKey === requestKey ? { kind: 'replay', voucher, redemption } : { kind: 'refused', code: 'VOUCHER_ALREADY_REDEEMED', voucher };
      }
      if (voucher.campaignEndsAt && voucher.campaignEndsAt.getTime() <= now.getTime()) return { kind: 'refused', code: 'VOUCHER_CAMPAIGN_ENDED', voucher };
      if (voucher.expiresAt && voucher.expiresAt.getTime() <= now.getTime()) return { kind: 'refused', code: 'VOUCHER_EXPIRED', voucher };
      const counted = (await trx.raw('update voucher_codes set redemptions = redemptions + 1 where code = ? and redemptions < max_redemptions returning code', [code])).rows;
      if (counted.length === 0) return { kind: 'refused', code: 'VOUCHER_EXHAUSTED', voucher };
      const inserted = (
        await trx.raw(
          `insert into voucher_redemptions (code, org_id, request_key, status, created_at) values (?, ?, ?, 'reserved', ?)
           on conflict do nothing returning *`,
          [code, orgId, requestKey, now],
        )
      ).rows;
      if (inserted.length === 0) {
        // The same organization, concurrently: its other request holds the redemption.
        await trx.rollback();
        return this.reserve(code, orgId, requestKey, now);
      }
      return { kind: 'reserved', voucher, redemption: toRedemption(inserted[0]) };
    });
  }

  async markGranted(code: string, orgId: string): Promise<void> {
    await this.knex.raw(`update voucher_redemptions set status = 'granted' where code = ? and org_id = ?`, [code, orgId]);
  }

  /** The wallet refused the grant (its currency is another): the redemption no longer counts. */
  async release(code: string, orgId: string): Promise<void> {
    await this.knex.transaction(async (trx) => {
      const deleted = (await trx.raw(`delete from voucher_redemptions where code = ? and org_id = ? and status = 'reserved' returning code`, [code, orgId])).rows;
      if (deleted.length > 0) await trx.raw('update voucher_codes set redemptions = redemptions - 1 where code = ?', [code]);
    });
  }

  /** Reservations a crash left between counting and granting. */
  async staleReservations(olderThan: Date, partitions?: PartitionFilter, limit = 500): Promise<{ voucher: VoucherCode; redemption: Redemption }[]> {
    const owned = partitionCondition('r.org_id', partitions);
    const rows = (
      await this.knex.raw(
        `select r.code as r_code, r.org_id, r.request_key, r.status, r.created_at as r_created_at, c.*
         from voucher_redemptions r join voucher_codes c on c.code = r.code
         where r.status = 'reserved' and r.created_at < ? and ${owned.sql} limit ?`,
        [olderThan, ...owned.bindings, limit],
      )
    ).rows as (CodeRecord & { r_code: string; org_id: string; request_key: string; status: string; r_created_at: Date | string })[];
    return rows.map((r) => ({ voucher: toVoucher(r), redemption: toRedemption({ code: r.r_code, org_id: r.org_id, request_key: r.request_key, status: r.status, created_at: r.r_created_at }) }));
  }
}
