/** Every error code a wallet reply can carry, in one place. */
export const ErrorCode = {
  // input
  MALFORMED_JSON: 'MALFORMED_JSON',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  MISSING_FIELD: 'MISSING_FIELD',
  INVALID_FIELD: 'INVALID_FIELD',
  INVALID_AMOUNT: 'INVALID_AMOUNT',
  TOO_MANY_DECIMALS: 'TOO_MANY_DECIMALS',
  AMOUNT_TOO_LARGE: 'AMOUNT_TOO_LARGE',
  UNKNOWN_CURRENCY: 'UNKNOWN_CURRENCY',
  INVALID_ORG_ID: 'INVALID_ORG_ID',
  UNKNOWN_COMMAND: 'UNKNOWN_COMMAND',
  UNKNOWN_SKU: 'UNKNOWN_SKU',
  // lifecycle events
  SUBJECT_MISMATCH: 'SUBJECT_MISMATCH',
  RESOURCE_MISMATCH: 'RESOURCE_MISMATCH',
  TOO_MANY_EVENTS: 'TOO_MANY_EVENTS',
  OUT_OF_RANGE: 'OUT_OF_RANGE',
  // idempotency
  IDEMPOTENCY_CONFLICT: 'IDEMPOTENCY_CONFLICT',
  // business refusals (from the domain)
  CURRENCY_LOCKED: 'CURRENCY_LOCKED',
  CURRENCY_MISMATCH: 'CURRENCY_MISMATCH',
  NO_BILLING_CURRENCY: 'NO_BILLING_CURRENCY',
  GRANT_ALREADY_EXPIRED: 'GRANT_ALREADY_EXPIRED',
  // workspace budgets: more workspaces capped than an organization may have
  BUDGET_LIMIT: 'BUDGET_LIMIT',
  // voucher codes
  UNKNOWN_VOUCHER_CODE: 'UNKNOWN_VOUCHER_CODE',
  VOUCHER_CAMPAIGN_ENDED: 'VOUCHER_CAMPAIGN_ENDED',
  VOUCHER_EXPIRED: 'VOUCHER_EXPIRED',
  VOUCHER_EXHAUSTED: 'VOUCHER_EXHAUSTED',
  VOUCHER_ALREADY_REDEEMED: 'VOUCHER_ALREADY_REDEEMED',
  VOUCHER_CODE_EXISTS: 'VOUCHER_CODE_EXISTS',
  // operators: an admin command or a wallet command by hand that names no operator
  OPERATOR_REQUIRED: 'OPERATOR_REQUIRED',
  // paid top-ups (the gateway's): limits, a provider's refusal, operator refunds
  TOPUP_AMOUNT_TOO_SMALL: 'TOPUP_AMOUNT_TOO_SMALL',
  TOPUP_AMOUNT_TOO_LARGE: 'TOPUP_AMOUNT_TOO_LARGE',
  TOPUP_DAILY_LIMIT: 'TOPUP_DAILY_LIMIT',
  PROVIDER_REFUSED: 'PROVIDER_REFUSED',
  UNKNOWN_TOPUP: 'UNKNOWN_TOPUP',
  NOT_REFUNDABLE: 'NOT_REFUNDABLE',
  REFUND_EXCEEDS_REMAINING: 'REFUND_EXCEEDS_REMAINING',
  /** Auto top-up: the Stripe payment method is not attached to that customer, or the customer is not the organization's. */
  PAYMENT_METHOD_NOT_YOURS: 'PAYMENT_METHOD_NOT_YOURS',
  // HTTP (the gateway's answers to requests no route takes as they are)
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  // engine
  MAILBOX_FULL: 'MAILBOX_FULL',
  UNAVAILABLE: 'UNAVAILABLE',
  CONFLICT: 'CONFLICT',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorBody {
  readonly code: string;
  readonly message: string;
}

export type Reply<T extends object = object> = ({ ok: true } & T) | { ok: false; error: ErrorBody };

export function errorReply(code: string, message: string): { ok: false; error: ErrorBody } {
  return { ok: false, error: { code, message } };
}

/** A refusal raised while reading input; carries its reply code. */
export class InputError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}
