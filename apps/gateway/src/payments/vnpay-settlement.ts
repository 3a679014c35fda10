import { Decimal } from '@billing/domain';
import { SettlementReport, str } from './settlement-report';
import { VnpayQueryResult } from './provider-clients';
import { fromVnpAmount, toVnpAmount, VnpayIpn, vnpayPaid } from './vnpay';

/**
 * VNPAY's answers, as settlement inputs (docs/payments.md, "Settlement"): the IPN, and the
 * results of its `querydr` (transaction query) and `refund` APIs, whose responses the provider
 * client verifies before they come here. VNPAY has no event id: a fact is keyed by what it
 * reports (transaction number, type, codes), which a repeat of the same report repeats.
 * Amounts are `vnp_Amount` = dong x 100.
 */

/** `vnp_ResponseCode` 11: the payment window closed unpaid; 24: the payer cancelled. */
const IPN_EXPIRED = '11';
const IPN_CANCELLED = '24';

/** `yyyyMMddHHmmss` in Vietnam's time (UTC+7), as VNPAY writes `vnp_PayDate`; null if unreadable. */
export function vnpayTime(value: unknown): Date | null {
  const m = typeof value === 'string' ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value) : null;
  if (!m) return null;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4] - 7, +m[5], +m[6]);
  return Number.isNaN(ms) ? null : new Date(ms);
}

const vndInput = <T>(amount: Decimal | null, make: (amount: Decimal) => T) => (amount !== null && amount.isInteger() ? make(amount) : null);

/** A verified IPN: paid (both codes 00), expired (11), cancelled (24), or a failed attempt (any other code). */
export function readVnpayIpnReport(ipn: VnpayIpn, payDate: unknown = null): SettlementReport {
  const txn = ipn.transactionNo ?? '-';
  const base = {
    kind: 'report' as const,
    type: `ipn ${ipn.responseCode}/${ipn.transactionStatus}`,
    key: `vnpay:ipn:${txn}:${ipn.responseCode}:${ipn.transactionStatus}`.slice(0, 200),
    at: vnpayTime(payDate),
    find: { providerRef: ipn.txnRef },
    topupId: null,
    currency: 'VND',
    // VNPAY's guide: an IPN whose amount is not the order's is answered 04 whatever its result.
    paymentAmount: ipn.amount,
  };
  if (vnpayPaid(ipn)) return { ...base, input: () => vndInput(ipn.amount, (amount) => ({ kind: 'captured', amount, captureRef: ipn.transactionNo })) };
  const reason = `vnpay response ${ipn.responseCode}, status ${ipn.transactionStatus}`;
  if (ipn.responseCode === IPN_EXPIRED) return { ...base, input: () => ({ kind: 'expired', reason }) };
  if (ipn.responseCode === IPN_CANCELLED) return { ...base, input: () => ({ kind: 'canceled', reason }) };
  return { ...base, input: () => ({ kind: 'attempt_failed', reason }) };
}

/** `vnp_TransactionType`: 01 a payment, 02 a full refund, 03 a partial refund. */
const PAYMENT = '01';
const REFUNDS = new Set(['02', '03']);
/** Refund statuses that move money back: 00 done, 05 VNPAY processing it, 06 sent to the bank; 09 is a refund declined. */
const REFUND_UNDER_WAY = new Set(['00', '05', '06']);
const REFUND_DECLINED = '09';

/**
 * A verified `querydr` answer (the fields of its JSON body). A query that failed
 * (`vnp_ResponseCode` not 00) or a payment still in progress (01) says nothing yet.
 */
export function readVnpayQuerydrReport(answer: Readonly<Record<string, unknown>>): SettlementReport {
  if (answer.vnp_ResponseCode !== '00') return { kind: 'ignored', reason: `querydr answered ${String(answer.vnp_ResponseCode).slice(0, 8)}` };
  const txnRef = str(answer.vnp_TxnRef);
  const type = str(answer.vnp_TransactionType);
  const status = str(answer.vnp_TransactionStatus);
  const amount = fromVnpAmount(answer.vnp_Amount);
  if (!txnRef || !type || !status || amount === null) return { kind: 'invalid', reason: 'a querydr answer without its reference, type, status or amount' };
  const txn = str(answer.vnp_TransactionNo) ?? '-';
  const base = {
    kind: 'report' as const,
    type: `querydr ${type}/${status}`,
    key: `vnpay:querydr:${txn}:${type}:${status}`.slice(0, 200),
    at: vnpayTime(answer.vnp_PayDate),
    find: { providerRef: txnRef },
    topupId: null,
    currency: 'VND',
  };
  if (type === PAYMENT) {
    if (status === '00') return { ...base, paymentAmount: amount, input: () => vndInput(amount, (a) => ({ kind: 'captured', amount: a, captureRef: str(answer.vnp_TransactionNo) })) };
    if (status === '02' || status === '04') return { ...base, paymentAmount: amount, input: () => ({ kind: 'attempt_failed', reason: `vnpay querydr status ${status}` }) };
    return { kind: 'ignored', reason: `payment status ${status} is not final` };
  }
  if (REFUNDS.has(type)) {
    if (!REFUND_UNDER_WAY.has(status) && status !== REFUND_DECLINED) return { kind: 'ignored', reason: `refund status ${status} is not used` };
    return { ...base, paymentAmount: null, input: () => vndInput(amount, (a) => ({ kind: 'refund', refundId: `vnpay:${txn}`, amount: a, counts: status !== REFUND_DECLINED, total: null })) };
  }
  return { kind: 'ignored', reason: `transaction type ${type} is not used` };
}

/** A verified answer of the `refund` API: 00 is a refund made (of `vnp_Amount`); any other code made none. */
export function readVnpayRefundReport(answer: Readonly<Record<string, unknown>>): SettlementReport {
  if (answer.vnp_ResponseCode !== '00') return { kind: 'ignored', reason: `refund answered ${String(answer.vnp_ResponseCode).slice(0, 8)}` };
  const txnRef = str(answer.vnp_TxnRef);
  const txn = str(answer.vnp_TransactionNo);
  const amount = fromVnpAmount(answer.vnp_Amount);
  if (!txnRef || !txn || amount === null) return { kind: 'invalid', reason: 'a refund answer without its reference, transaction number or amount' };
  return {
    kind: 'report',
    type: 'refund',
    key: `vnpay:refund:${txn}`.slice(0, 200),
    at: vnpayTime(answer.vnp_PayDate),
    find: { providerRef: txnRef },
    topupId: null,
    currency: 'VND',
    paymentAmount: null,
    input: () => vndInput(amount, (a) => ({ kind: 'refund', refundId: `vnpay:${txn}`, amount: a, counts: true, total: null })),
  };
}

/** A `querydr` result as the client read it (its checksum verified), as the same report as its raw answer. */
export function readVnpayQueryReport(result: Extract<VnpayQueryResult, { found: true }>): SettlementReport {
  return readVnpayQuerydrReport({
    vnp_ResponseCode: '00',
    vnp_TxnRef: result.txnRef,
    vnp_TransactionType: result.transactionType,
    vnp_TransactionStatus: result.transactionStatus,
    vnp_Amount: result.amount === null ? null : toVnpAmount(result.amount),
    vnp_TransactionNo: result.transactionNo,
    vnp_PayDate: result.payDate,
  });
}
