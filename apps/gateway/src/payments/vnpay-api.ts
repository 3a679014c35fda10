import { createHmac, randomBytes, timingSafeEqual } from 'crypto';
import { Logger } from '@nestjs/common';
import { Decimal } from '@billing/domain';
import { httpAttempt, jsonOf, kindOfStatus, ProviderCallPolicy, ProviderError, retryAfterMs, withRetries } from './provider-call';
import { VnpayClient, VnpayQueryResult, VnpayRefundResult } from './provider-clients';
import { fromVnpAmount, toVnpAmount, VNPAY_VERSION, vnpayDate } from './vnpay';

/**
 * VNPAY's merchant API (`querydr`: what became of a payment; `refund`), as VNPAY's integration
 * guide for API 2.1.0 describes it: a JSON POST to `/merchant_webapi/api/transaction`, each
 * request and answer signed with HMAC-SHA512 (keyed with the merchant's hash secret, the same
 * as the payment URL's) over its fields in a fixed order joined by `|` - not the sorted
 * `key=value` string of the payment URL and the IPN.
 */
export const VNPAY_SANDBOX_API_URL = 'https://sandbox.vnpayment.vn/merchant_webapi/api/transaction';

/** The fields each message signs, in VNPAY's order. */
export const VNPAY_SIGNED_FIELDS = {
  querydrRequest: ['vnp_RequestId', 'vnp_Version', 'vnp_Command', 'vnp_TmnCode', 'vnp_TxnRef', 'vnp_TransactionDate', 'vnp_CreateDate', 'vnp_IpAddr', 'vnp_OrderInfo'],
  querydrResponse: ['vnp_ResponseId', 'vnp_Command', 'vnp_ResponseCode', 'vnp_Message', 'vnp_TmnCode', 'vnp_TxnRef', 'vnp_Amount', 'vnp_BankCode', 'vnp_PayDate', 'vnp_TransactionNo', 'vnp_TransactionType', 'vnp_TransactionStatus', 'vnp_OrderInfo', 'vnp_PromotionCode', 'vnp_PromotionAmount'],
  refundRequest: ['vnp_RequestId', 'vnp_Version', 'vnp_Command', 'vnp_TmnCode', 'vnp_TransactionType', 'vnp_TxnRef', 'vnp_Amount', 'vnp_TransactionNo', 'vnp_TransactionDate', 'vnp_CreateBy', 'vnp_CreateDate', 'vnp_IpAddr', 'vnp_OrderInfo'],
  refundResponse: ['vnp_ResponseId', 'vnp_Command', 'vnp_ResponseCode', 'vnp_Message', 'vnp_TmnCode', 'vnp_TxnRef', 'vnp_Amount', 'vnp_BankCode', 'vnp_PayDate', 'vnp_TransactionNo', 'vnp_TransactionType', 'vnp_TransactionStatus', 'vnp_OrderInfo'],
} as const;

/** `vnp_TransactionType` of a refund: the whole payment, or part of it. */
export const VNPAY_FULL_REFUND = '02';
export const VNPAY_PARTIAL_REFUND = '03';

/** `a|b|c` of the named fields (a missing one as empty), VNPAY's signed data for its API. */
export function vnpayApiSignData(message: Readonly<Record<string, unknown>>, fields: readonly string[]): string {
  return fields.map((f) => (message[f] === undefined || message[f] === null ? '' : String(message[f]))).join('|');
}

export function vnpayApiSign(message: Readonly<Record<string, unknown>>, fields: readonly string[], hashSecret: string): string {
  return createHmac('sha512', hashSecret).update(vnpayApiSignData(message, fields), 'utf8').digest('hex');
}

/** Whether `vnp_SecureHash` is the signature of the named fields. */
export function vnpayApiVerify(message: Readonly<Record<string, unknown>>, fields: readonly string[], hashSecret: string): boolean {
  const given = message.vnp_SecureHash;
  if (typeof given !== 'string' || !/^[0-9a-fA-F]{128}$/.test(given)) return false;
  return timingSafeEqual(Buffer.from(given.toLowerCase(), 'hex'), Buffer.from(vnpayApiSign(message, fields, hashSecret), 'hex'));
}

/** A fresh `vnp_RequestId`: 32 letters and digits (VNPAY: unique per merchant per day). */
export function vnpayRequestId(): string {
  return randomBytes(16).toString('hex');
}

export interface VnpayApiSettings {
  readonly tmnCode: string;
  readonly hashSecret: string;
  /** `https://sandbox.vnpayment.vn/merchant_webapi/api/transaction`, VNPAY's production one, or a local fake. */
  readonly apiUrl: string;
  /** `vnp_IpAddr` of API calls: the address of the server calling (VNPAY's guide). */
  readonly serverIp: string;
  readonly policy: ProviderCallPolicy;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : null);

/** `vnp_Amount` (x100, text or number) as dong; null if unreadable. */
function dong(v: unknown): Decimal | null {
  return fromVnpAmount(text(v));
}

/**
 * VNPAY's querydr and refund. A transport failure, 429 or 5xx is retried (the policy); VNPAY's
 * own answers come with HTTP 200 and a `vnp_ResponseCode`: `00` is done, `91` not found, `94` a
 * request already made (a refund VNPAY is already processing), `95` a refund VNPAY refuses,
 * `97` our checksum refused, `02`/`03` our merchant code or data refused, `99` VNPAY's own
 * error (retried: a refund keeps its vnp_RequestId across attempts, so a repeat is seen as one).
 * Every answer's checksum is verified; a wrong one is refused as not VNPAY's.
 */
export class VnpayApiClient implements VnpayClient {
  private readonly logger = new Logger('VnpayClient');

  constructor(
    private readonly settings: VnpayApiSettings,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  private async post(command: 'querydr' | 'refund', request: () => Record<string, string>, responseFields: readonly string[]): Promise<Record<string, unknown>> {
    return withRetries(
      this.settings.policy,
      async () => {
        const answer = await httpAttempt(
          'vnpay',
          this.settings.apiUrl,
          { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(request()) },
          this.settings.policy.timeoutMs,
          this.fetchImpl,
        );
        if (answer.status !== 200) {
          throw new ProviderError('vnpay', kindOfStatus(answer.status), `${command} answered HTTP ${answer.status}`, { status: answer.status, retryAfterMs: retryAfterMs(answer.headers.get('retry-after')) ?? undefined });
        }
        const body = jsonOf('vnpay', answer);
        const code = text(body.vnp_ResponseCode) ?? '';
        // VNPAY signs what it answers; an error answer may come unsigned, a success never.
        if ((code === '00' || body.vnp_SecureHash !== undefined) && !vnpayApiVerify(body, responseFields, this.settings.hashSecret)) {
          throw new ProviderError('vnpay', 'unavailable', `${command} answer's checksum does not verify`, { code, retryable: false });
        }
        if (code === '99') throw new ProviderError('vnpay', 'unavailable', `${command}: VNPAY error 99 (${text(body.vnp_Message) ?? 'other error'})`, { code });
        return body;
      },
      { onRetry: (error, retry, waitMs) => this.logger.warn({ msg: 'vnpay call retried', call: command, retry, waitMs, kind: error.kind, status: error.details.status, error: error.message }) },
    );
  }

  private refusal(command: string, body: Record<string, unknown>): ProviderError {
    const code = text(body.vnp_ResponseCode) ?? '';
    const message = `${command}: VNPAY answered ${code || '(no code)'} (${text(body.vnp_Message) ?? ''})`;
    if (code === '97') return new ProviderError('vnpay', 'unauthorized', `${message}: our checksum was refused (VNPAY_HASH_SECRET)`, { code });
    if (code === '95') return new ProviderError('vnpay', 'declined', message, { code });
    return new ProviderError('vnpay', 'invalid', message, { code });
  }

  async queryTransaction(input: { txnRef: string; transactionDate: Date; orderInfo?: string; now?: Date }): Promise<VnpayQueryResult> {
    const body = await this.post(
      'querydr',
      () => {
        // A query changes nothing: each attempt is a request of its own, with its own id.
        const request: Record<string, string> = {
          vnp_RequestId: vnpayRequestId(),
          vnp_Version: VNPAY_VERSION,
          vnp_Command: 'querydr',
          vnp_TmnCode: this.settings.tmnCode,
          vnp_TxnRef: input.txnRef,
          vnp_OrderInfo: input.orderInfo ?? `Truy van giao dich ${input.txnRef}`,
          vnp_TransactionDate: vnpayDate(input.transactionDate),
          vnp_CreateDate: vnpayDate(input.now ?? new Date()),
          vnp_IpAddr: this.settings.serverIp,
        };
        return { ...request, vnp_SecureHash: vnpayApiSign(request, VNPAY_SIGNED_FIELDS.querydrRequest, this.settings.hashSecret) };
      },
      VNPAY_SIGNED_FIELDS.querydrResponse,
    );
    const code = text(body.vnp_ResponseCode);
    if (code === '91') return { found: false };
    if (code !== '00') throw this.refusal('querydr', body);
    const transactionStatus = text(body.vnp_TransactionStatus) ?? '';
    return {
      found: true,
      txnRef: text(body.vnp_TxnRef) ?? input.txnRef,
      transactionStatus,
      paid: transactionStatus === '00',
      transactionNo: text(body.vnp_TransactionNo),
      transactionType: text(body.vnp_TransactionType),
      amount: dong(body.vnp_Amount),
      bankCode: text(body.vnp_BankCode),
      payDate: text(body.vnp_PayDate),
    };
  }

  async refund(input: { txnRef: string; amount: Decimal; full: boolean; transactionNo: string | null; transactionDate: Date; createBy: string; orderInfo?: string; requestId?: string; now?: Date }): Promise<VnpayRefundResult> {
    if (!input.amount.isInteger() || !input.amount.isPositive()) throw new ProviderError('vnpay', 'invalid', 'a VNPAY refund is a positive whole number of dong');
    // One refund, one request id, in every attempt: VNPAY answers a repeat with 94 instead of refunding twice.
    const requestId = input.requestId ?? vnpayRequestId();
    const createDate = vnpayDate(input.now ?? new Date());
    const body = await this.post(
      'refund',
      () => {
        const request: Record<string, string> = {
          vnp_RequestId: requestId,
          vnp_Version: VNPAY_VERSION,
          vnp_Command: 'refund',
          vnp_TmnCode: this.settings.tmnCode,
          vnp_TransactionType: input.full ? VNPAY_FULL_REFUND : VNPAY_PARTIAL_REFUND,
          vnp_TxnRef: input.txnRef,
          vnp_Amount: toVnpAmount(input.amount),
          // VNPAY's guide: 0 when the merchant does not know VNPAY's transaction number.
          vnp_TransactionNo: input.transactionNo ?? '0',
          vnp_TransactionDate: vnpayDate(input.transactionDate),
          vnp_CreateBy: input.createBy.slice(0, 250),
          vnp_CreateDate: createDate,
          vnp_IpAddr: this.settings.serverIp,
          vnp_OrderInfo: input.orderInfo ?? `Hoan tien ${input.txnRef}`,
        };
        return { ...request, vnp_SecureHash: vnpayApiSign(request, VNPAY_SIGNED_FIELDS.refundRequest, this.settings.hashSecret) };
      },
      VNPAY_SIGNED_FIELDS.refundResponse,
    );
    const code = text(body.vnp_ResponseCode);
    if (code === '00') return { status: 'accepted', requestId, transactionNo: text(body.vnp_TransactionNo), amount: dong(body.vnp_Amount), transactionStatus: text(body.vnp_TransactionStatus) };
    if (code === '94') return { status: 'already_requested', requestId, transactionNo: text(body.vnp_TransactionNo), amount: dong(body.vnp_Amount), transactionStatus: text(body.vnp_TransactionStatus) };
    throw this.refusal('refund', body);
  }
}
