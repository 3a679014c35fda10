import { HttpException } from '@nestjs/common';
import { ErrorCode } from '@billing/contracts';

/** HTTP statuses for the engine's error codes; input errors are 400, nothing is half-applied. */
const STATUS: Record<string, number> = {
  // A body over the engine's limit: 413, as the gateway answers one over its own.
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.IDEMPOTENCY_CONFLICT]: 409,
  [ErrorCode.CURRENCY_LOCKED]: 409,
  [ErrorCode.CURRENCY_MISMATCH]: 409,
  [ErrorCode.NO_BILLING_CURRENCY]: 409,
  [ErrorCode.GRANT_ALREADY_EXPIRED]: 409,
  [ErrorCode.UNKNOWN_VOUCHER_CODE]: 404,
  [ErrorCode.VOUCHER_CAMPAIGN_ENDED]: 409,
  [ErrorCode.VOUCHER_EXPIRED]: 409,
  [ErrorCode.VOUCHER_EXHAUSTED]: 409,
  [ErrorCode.VOUCHER_ALREADY_REDEEMED]: 409,
  [ErrorCode.VOUCHER_CODE_EXISTS]: 409,
  [ErrorCode.MAILBOX_FULL]: 429,
  [ErrorCode.UNAVAILABLE]: 503,
  [ErrorCode.CONFLICT]: 503,
  [ErrorCode.INTERNAL]: 500,
};

/** The engine's reply as the HTTP answer: the body as it is, an error with its status. */
export function answer(reply: { ok: boolean; error?: { code: string } }): object {
  if (reply.ok) return reply;
  throw new HttpException(reply, STATUS[reply.error?.code ?? ''] ?? 400);
}
