import { Currency, Decimal, inMinorUnits, SettlementInput } from '@billing/domain';

/** How to find the top-up a provider event is about; the service tries our id, then the payment's reference, then the capture's. */
export interface TopupLookup {
  /** Our top-up id, as the provider echoes it (Stripe `metadata.topupId`, PayPal `custom_id`). */
  readonly topupId?: string | null;
  /** The payment's reference at the provider: the PaymentIntent, the PayPal order, VNPAY's `vnp_TxnRef`. */
  readonly providerRef?: string | null;
  /** The money movement's: Stripe's charge, PayPal's capture (refunds and disputes name these). */
  readonly captureRefs?: readonly (string | null)[];
  /**
   * An auto top-up's id (Stripe `metadata.topupId` of a PaymentIntent whose metadata says
   * `autoTopup`): found by it while its reference is still `autotopup:<id>` (Stripe's answer, which
   * names the PaymentIntent, not stored yet: lost past the retries, or this event came first).
   */
  readonly autoTopupId?: string | null;
}

/**
 * What one verified provider event says about a top-up, in the settlement machine's words
 * (`libs/domain/src/settlement.ts`), before the top-up is known: its amounts are read in the
 * top-up's currency once it is.
 */
export type SettlementReport =
  /** An event type settlement does not use. */
  | { readonly kind: 'ignored'; readonly reason: string }
  /** An event of a type used, but without what that type must carry: nothing is recorded. */
  | { readonly kind: 'invalid'; readonly reason: string }
  | {
      readonly kind: 'report';
      /** The provider's name of the event, for the log. */
      readonly type: string;
      readonly find: TopupLookup;
      /** Our id as the provider echoes it: the top-up found must be this one. */
      readonly topupId: string | null;
      /** The currency of the amounts (upper case); must be the top-up's. */
      readonly currency: string | null;
      /** The payment's amount as the event states it (VNPAY's IPN carries it whatever the result): must be the top-up's. */
      readonly paymentAmount: Decimal | null;
      /** The fact's key: the provider's id of what it told us. */
      readonly key: string;
      readonly at: Date | null;
      /** The input in the top-up's currency, or null if an amount in it cannot be read as that currency's. */
      readonly input: (currency: Currency) => SettlementInput | null;
    };

export type Obj = Record<string, unknown>;
export const obj = (v: unknown): Obj | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null);
/** A non-empty string of at most `max` characters (provider ids are short; anything longer is not one). */
export const str = (v: unknown, max = 255): string | null => (typeof v === 'string' && v.length > 0 && v.length <= max ? v : null);

const DECIMAL = /^(0|[1-9][0-9]{0,19})(\.[0-9]{1,8})?$/;

/** A decimal string amount (PayPal's `value`) with no more decimals than the currency has; null otherwise. */
export function decimalAmount(value: unknown, currency: Currency): Decimal | null {
  const text = str(value, 40);
  if (text === null || !DECIMAL.test(text)) return null;
  const amount = new Decimal(text);
  return inMinorUnits(amount, currency) ? amount : null;
}

/** An ISO-8601 time, or null. */
export function isoTime(value: unknown): Date | null {
  const text = str(value, 64);
  if (text === null) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms);
}

/** Longer reasons are cut: enough to diagnose. */
export const MAX_REPORT_REASON_CHARS = 200;
