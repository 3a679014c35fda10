import { createHmac, timingSafeEqual } from 'crypto';
import { Decimal, fromUnitCount, toUnitCount } from '@billing/domain';

/**
 * VNPAY's payment URL and IPN, as VNPAY's integration guide (API 2.1.0) describes them. VNPAY
 * signs and checks HMAC-SHA512, keyed with the merchant's hash secret, of the `vnp_` parameters
 * sorted by name, each written `key=value` URL-encoded (spaces as `+`) and joined with `&`.
 */
export const VNPAY_VERSION = '2.1.0';
export const VNPAY_SANDBOX_PAY_URL = 'https://sandbox.vnpayment.vn/paymentv2/vpcpay.html';
/** VNPAY takes VND only; `vnp_Amount` counts hundredths of a dong (no decimals on the wire). */
export const VNPAY_AMOUNT_PLACES = 2;

/** An amount in dong as `vnp_Amount`. */
export function toVnpAmount(amount: Decimal): string {
  const count = toUnitCount(amount, VNPAY_AMOUNT_PLACES);
  if (count === null) throw new Error(`${amount.toFixed()} VND is not a whole number of hundredths of a dong`);
  return count;
}

/** `vnp_Amount` (text of 1 to 20 digits) as dong; null if it is not that. */
export function fromVnpAmount(raw: unknown): Decimal | null {
  return fromUnitCount(raw, VNPAY_AMOUNT_PLACES);
}
/** How long the buyer has on VNPAY's page before the payment URL expires. */
export const VNPAY_PAYMENT_WINDOW_MINUTES = 15;
/** VNPAY's dates are Vietnam's local time (UTC+7), whatever the server's zone. */
const VIETNAM_UTC_OFFSET_MS = 7 * 3600 * 1000;
/** Longer parameter values are refused unread: nobody should make us hash megabytes. */
export const MAX_VNPAY_PARAM_CHARS = 1024;
const HEX_SHA512 = /^[0-9a-fA-F]{128}$/;

/** The answers VNPAY expects from an IPN endpoint (its guide's table). */
export const VnpayIpnReply = {
  CONFIRMED: { RspCode: '00', Message: 'Confirm Success' },
  ORDER_NOT_FOUND: { RspCode: '01', Message: 'Order not found' },
  ALREADY_CONFIRMED: { RspCode: '02', Message: 'Order already confirmed' },
  INVALID_AMOUNT: { RspCode: '04', Message: 'Invalid amount' },
  INVALID_SIGNATURE: { RspCode: '97', Message: 'Invalid signature' },
  UNKNOWN_ERROR: { RspCode: '99', Message: 'Unknown error' },
} as const;
export type VnpayIpnAnswer = (typeof VnpayIpnReply)[keyof typeof VnpayIpnReply];

/** `key=value&...` over the sorted parameters, encoded as VNPAY's own samples encode them. */
export function vnpaySignData(params: Readonly<Record<string, string>>): string {
  return Object.keys(params)
    .sort()
    .map((key) => `${encodeURIComponent(key)}=${encodeURIComponent(params[key]).replace(/%20/g, '+')}`)
    .join('&');
}

export function vnpaySign(params: Readonly<Record<string, string>>, hashSecret: string): string {
  return createHmac('sha512', hashSecret).update(vnpaySignData(params), 'utf8').digest('hex');
}

/** `yyyyMMddHHmmss` in Vietnam's time. */
export function vnpayDate(at: Date): string {
  return new Date(at.getTime() + VIETNAM_UTC_OFFSET_MS).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export interface VnpayPaymentRequest {
  readonly payUrl: string;
  readonly tmnCode: string;
  readonly hashSecret: string;
  readonly returnUrl: string;
  /** Our reference of the top-up (VNPAY's `vnp_TxnRef`): letters and digits. */
  readonly txnRef: string;
  /** In VND, whole dong. */
  readonly amount: Decimal;
  readonly currency: string;
  readonly clientIp: string;
  readonly now: Date;
}

/** The signed URL the browser is sent to. Throws if the top-up cannot be paid through VNPAY. */
export function buildVnpayPaymentUrl(req: VnpayPaymentRequest): string {
  if (req.currency !== 'VND') throw new Error(`VNPAY takes VND only, not ${req.currency}`);
  if (!req.amount.isInteger() || !req.amount.isPositive()) throw new Error('a VNPAY amount is a positive whole number of dong');
  const params: Record<string, string> = {
    vnp_Version: VNPAY_VERSION,
    vnp_Command: 'pay',
    vnp_TmnCode: req.tmnCode,
    vnp_Amount: toVnpAmount(req.amount),
    vnp_CurrCode: 'VND',
    vnp_TxnRef: req.txnRef,
    // VNPAY asks for plain ASCII here, without accents or special characters.
    vnp_OrderInfo: `Nap tien vi ${req.txnRef}`,
    vnp_OrderType: 'other',
    vnp_Locale: 'vn',
    vnp_ReturnUrl: req.returnUrl,
    vnp_IpAddr: req.clientIp,
    vnp_CreateDate: vnpayDate(req.now),
    vnp_ExpireDate: vnpayDate(new Date(req.now.getTime() + VNPAY_PAYMENT_WINDOW_MINUTES * 60_000)),
  };
  const signData = vnpaySignData(params);
  const hash = createHmac('sha512', req.hashSecret).update(signData, 'utf8').digest('hex');
  return `${req.payUrl}?${signData}&vnp_SecureHash=${hash}`;
}

/** What a verified IPN says. */
export interface VnpayIpn {
  readonly txnRef: string;
  /** `vnp_Amount` turned back into dong. */
  readonly amount: Decimal;
  /** Paid only if both are `00`. */
  readonly responseCode: string;
  readonly transactionStatus: string;
  readonly transactionNo: string | null;
}

/**
 * Checks an IPN's `vnp_SecureHash` over its other `vnp_` parameters (as received, decoded) and
 * reads it. Null if the signature is missing or wrong, or the parameters are not what VNPAY sends.
 */
export function verifyVnpayIpn(query: Readonly<Record<string, unknown>>, hashSecret: string): VnpayIpn | null {
  const params: Record<string, string> = {};
  let secureHash: string | null = null;
  for (const [key, value] of Object.entries(query)) {
    if (!key.startsWith('vnp_')) continue;
    // A repeated parameter arrives as an array: VNPAY never sends one, so it is not VNPAY.
    if (typeof value !== 'string' || value.length > MAX_VNPAY_PARAM_CHARS) return null;
    if (key === 'vnp_SecureHash') secureHash = value;
    else if (key !== 'vnp_SecureHashType') params[key] = value;
  }
  if (secureHash === null || !HEX_SHA512.test(secureHash)) return null;
  const expected = Buffer.from(vnpaySign(params, hashSecret), 'hex');
  if (!timingSafeEqual(Buffer.from(secureHash.toLowerCase(), 'hex'), expected)) return null;
  const { vnp_TxnRef: txnRef, vnp_Amount: rawAmount, vnp_ResponseCode: responseCode, vnp_TransactionStatus: transactionStatus } = params;
  const amount = fromVnpAmount(rawAmount);
  if (!txnRef || amount === null || responseCode === undefined) return null;
  return {
    txnRef,
    amount,
    responseCode,
    // Older IPNs carry only the response code; it then says it all.
    transactionStatus: transactionStatus ?? responseCode,
    transactionNo: params.vnp_TransactionNo ?? null,
  };
}

/** VNPAY's "paid": both the response code and the transaction status are `00`. */
export function vnpayPaid(ipn: VnpayIpn): boolean {
  return ipn.responseCode === '00' && ipn.transactionStatus === '00';
}
