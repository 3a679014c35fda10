import { Currency } from './currency';
import { Decimal } from './money';

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
