import { Currency, DisputeStage, inMinorUnits } from '@billing/domain';
import { PayPalOrder } from './provider-clients';
import { decimalAmount, isoTime, obj, Obj, SettlementReport, str } from './settlement-report';

/**
 * PayPal's webhook events, as settlement inputs (docs/payments.md, "Settlement"). Every fact is
 * keyed by the event id (`paypal:WH-...`, kept across PayPal's retries) and timed by the
 * resource's `update_time` (else its `create_time`, else the event's). Amounts are decimal
 * strings (`amount.value`) with their `currency_code`.
 */

/** A resolved dispute's outcome, for us: the buyer's favour (or our acceptance) keeps the money withdrawn. */
const OUTCOMES: Readonly<Record<string, DisputeStage>> = {
  RESOLVED_BUYER_FAVOUR: 'lost',
  ACCEPTED: 'lost',
  RESOLVED_SELLER_FAVOUR: 'won',
  RESOLVED_WITH_PAYOUT: 'won',
  CANCELED_BY_BUYER: 'won',
  DENIED: 'won',
};

/**
 * Where a dispute stands. Its outcome once resolved; before that it is open, inquiries included:
 * PayPal may hold the funds from the first stage, so the credit is taken back until it decides.
 */
export function paypalDisputeStage(resource: Obj): DisputeStage | null {
  const outcome = str(obj(resource.dispute_outcome)?.outcome_code);
  if (outcome && OUTCOMES[outcome]) return OUTCOMES[outcome];
  return str(resource.status) === 'RESOLVED' ? null : 'open';
}

/** The capture a refund or reversal belongs to: its `up` link (`.../v2/payments/captures/<id>`). */
export function capturedBy(resource: Obj): string | null {
  const links = Array.isArray(resource.links) ? resource.links.slice(0, 20) : [];
  for (const l of links) {
    const link = obj(l);
    const m = link?.rel === 'up' ? /\/captures\/([A-Za-z0-9]{1,64})$/.exec(String(link.href ?? '')) : null;
    if (m) return m[1];
  }
  return null;
}

const MAX_DISPUTED_TRANSACTIONS = 20;

export function readPaypalReport(event: Obj): SettlementReport {
  const type = str(event.event_type) ?? '';
  const eventId = str(event.id);
  const resource = obj(event.resource);
  if (!resource || !eventId) return { kind: 'invalid', reason: 'no event id or resource' };
  const amount = obj(resource.amount);
  const base = {
    kind: 'report' as const,
    type,
    key: `paypal:${eventId}`,
    at: isoTime(resource.update_time) ?? isoTime(resource.create_time) ?? isoTime(event.create_time),
    topupId: null,
    paymentAmount: null,
    currency: str(amount?.currency_code) ?? '',
  };
  const orderId = str(obj(obj(resource.supplementary_data)?.related_ids)?.order_id);
  switch (type) {
    case 'PAYMENT.CAPTURE.COMPLETED': {
      const captureId = str(resource.id);
      if (!orderId || !captureId) return { kind: 'invalid', reason: 'a capture without its id or order id' };
      return {
        ...base,
        find: { providerRef: orderId },
        topupId: str(resource.custom_id),
        input: (currency) => {
          const value = decimalAmount(amount?.value, currency);
          return value && { kind: 'captured', amount: value, captureRef: captureId };
        },
      };
    }
    case 'PAYMENT.CAPTURE.DENIED':
    case 'PAYMENT.CAPTURE.DECLINED':
      if (!orderId) return { kind: 'invalid', reason: 'a capture without its order id' };
      // The order may still be captured again: an attempt failed, not the payment.
      return { ...base, currency: null, find: { providerRef: orderId }, input: () => ({ kind: 'attempt_failed', reason: `paypal ${type}` }) };
    case 'PAYMENT.CAPTURE.REFUNDED': {
      const refundId = str(resource.id);
      if (!refundId) return { kind: 'invalid', reason: 'a refund without its id' };
      const status = str(resource.status);
      const totalRefunded = obj(obj(resource.seller_payable_breakdown)?.total_refunded_amount);
      return {
        ...base,
        find: { topupId: str(resource.custom_id), captureRefs: [capturedBy(resource)] },
        input: (currency) => {
          const value = decimalAmount(amount?.value, currency);
          if (!value) return null;
          // The cumulative total, when given in the same currency, is PayPal's own figure for the capture.
          const total = totalRefunded && str(totalRefunded.currency_code) === currency ? decimalAmount(totalRefunded.value, currency) : null;
          return { kind: 'refund', refundId, amount: value, counts: status === null || status === 'COMPLETED' || status === 'PENDING', total };
        },
      };
    }
    case 'PAYMENT.CAPTURE.REVERSED': {
      const reversalId = str(resource.id);
      if (!reversalId) return { kind: 'invalid', reason: 'a reversal without its id' };
      return {
        ...base,
        find: { topupId: str(resource.custom_id), captureRefs: [capturedBy(resource), reversalId] },
        input: (currency) => {
          const value = decimalAmount(amount?.value, currency);
          return value && { kind: 'reversal', reversalId, amount: value };
        },
      };
    }
    case 'CUSTOMER.DISPUTE.CREATED':
    case 'CUSTOMER.DISPUTE.UPDATED':
    case 'CUSTOMER.DISPUTE.RESOLVED': {
      const disputeId = str(resource.dispute_id);
      const transactions = Array.isArray(resource.disputed_transactions) ? resource.disputed_transactions.slice(0, MAX_DISPUTED_TRANSACTIONS) : [];
      const captures = transactions.map((t) => str(obj(t)?.seller_transaction_id));
      if (!disputeId || !captures.some((c) => c !== null)) return { kind: 'invalid', reason: 'a dispute without its id or a disputed transaction' };
      const stage = paypalDisputeStage(resource);
      if (!stage) return { kind: 'invalid', reason: 'a resolved dispute without a known outcome' };
      const disputed = obj(resource.dispute_amount);
      return {
        ...base,
        currency: str(disputed?.currency_code) ?? '',
        find: { captureRefs: captures },
        input: (currency) => {
          const value = decimalAmount(disputed?.value, currency);
          return value && { kind: 'dispute', disputeId, amount: value, stage };
        },
      };
    }
    case 'CHECKOUT.ORDER.APPROVED': {
      const id = str(resource.id);
      if (!id) return { kind: 'invalid', reason: 'an order without its id' };
      const unit = obj(Array.isArray(resource.purchase_units) ? resource.purchase_units[0] : null);
      return { ...base, currency: null, find: { providerRef: id }, topupId: str(unit?.custom_id), input: () => ({ kind: 'approved' }) };
    }
    default:
      return { kind: 'ignored', reason: `event type ${type || '(none)'} is not used` };
  }
}

/**
 * What an order PayPal's API returned says: the answer of our capture call (the return URL and
 * CHECKOUT.ORDER.APPROVED), or of get order (reconciliation). Each capture is a fact keyed by
 * its id and state: a COMPLETED capture (also once refunded) is the money taken, so its capture
 * id is stored and a refund or dispute naming it finds the top-up before PAYMENT.CAPTURE.COMPLETED
 * arrives; a capture REFUNDED in full also reports that total (timed `now`, when it was read);
 * DECLINED and FAILED are a failed attempt; a VOIDED order is closed unpaid. PENDING says nothing yet.
 */
export function readPaypalOrderReports(order: PayPalOrder, now: Date): SettlementReport[] {
  const reports: SettlementReport[] = [];
  const base = { kind: 'report' as const, find: { providerRef: order.id }, paymentAmount: null, at: null };
  for (const capture of order.captures) {
    const amount = capture.amount;
    const inCurrency = (currency: Currency) => (amount !== null && amount.isPositive() && inMinorUnits(amount, currency) ? amount : null);
    const topupId = capture.topupId ?? order.topupId;
    const taken = capture.status === 'COMPLETED' || capture.status === 'REFUNDED' || capture.status === 'PARTIALLY_REFUNDED';
    if (taken) {
      reports.push({ ...base, type: `capture ${capture.status}`, topupId, currency: capture.currency ?? '', key: `paypal:capture:${capture.id}:completed`, input: (currency) => { const value = inCurrency(currency); return value && { kind: 'captured', amount: value, captureRef: capture.id }; } });
      if (capture.status === 'REFUNDED') {
        reports.push({ ...base, type: 'capture REFUNDED', topupId, at: now, currency: capture.currency ?? '', key: `paypal:capture:${capture.id}:refunded`, input: (currency) => { const value = inCurrency(currency); return value && { kind: 'refund', refundId: null, amount: null, counts: true, total: value }; } });
      }
    } else if (capture.status === 'DECLINED' || capture.status === 'FAILED') {
      reports.push({ ...base, type: `capture ${capture.status}`, topupId, currency: null, key: `paypal:capture:${capture.id}:${capture.status.toLowerCase()}`, input: () => ({ kind: 'attempt_failed', reason: `paypal capture ${capture.status}` }) });
    }
  }
  if (order.status === 'VOIDED') reports.push({ ...base, type: 'order VOIDED', topupId: order.topupId, currency: null, key: `paypal:order:${order.id}:voided`, input: () => ({ kind: 'canceled', reason: 'paypal order VOIDED' }) });
  return reports;
}
