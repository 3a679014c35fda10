import { Currency } from './currency';
import { Decimal } from './money';
import { DAY_MS } from './metering';

/** What a voucher code grants each organization that redeems it, and on which terms. */
export interface VoucherCodeTerms {
  readonly code: string;
  readonly amount: Decimal;
  readonly currency: Currency;
  /** Only this service may use the voucher; null for any. */
  readonly service: string | null;
  /** The vouchers expire at this instant, or `expiresAfterDays` after each redemption. */
  readonly expiresAt: Date | null;
  readonly expiresAfterDays: number | null;
  readonly maxRedemptions: number;
  /** No redemption from this instant on. */
  readonly campaignEndsAt: Date | null;
}

/**
 * When a redeemed voucher expires: at the code's instant, or `expiresAfterDays` after the
 * redemption (its time, never the clock of a retry: a retry is the same grant).
 */
export function voucherExpiresAt(terms: Pick<VoucherCodeTerms, 'expiresAt' | 'expiresAfterDays'>, redeemedAt: Date): Date {
  return terms.expiresAt ?? new Date(redeemedAt.getTime() + (terms.expiresAfterDays ?? 0) * DAY_MS);
}
