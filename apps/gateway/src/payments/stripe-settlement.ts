import { createHash } from 'crypto';
import type Stripe from 'stripe';
import { DisputeStage, fromMinorUnits } from '@billing/domain';
import { MAX_REPORT_REASON_CHARS, obj, Obj, SettlementReport, str } from './settlement-report';
import { StripePaymentIntent } from './provider-clients';

/**
 * Stripe's events, as settlement inputs (docs/payments.md, "Settlement"). Every fact is keyed by
 * the event id (`stripe:evt_...`, which Stripe keeps across its retries) and timed by the event's
 * `created`. Amounts are in the currency's minor unit.
 */

/** A dispute's `status` as a stage: `warning_*` are inquiries (no funds withdrawn); `charge_refunded`: the refund gave the money back, the dispute takes none. */
const DISPUTE_STAGES: Readonly<Record<string, DisputeStage>> = {
  warning_needs_response: 'inquiry',
  warning_under_review: 'inquiry',
  warning_closed: 'inquiry',
  needs_response: 'open',
  under_review: 'open',
  won: 'won',
  lost: 'lost',
  charge_refunded: 'won',
  prevented: 'won',
};

/** The cancellation reason of a PaymentIntent whose payment window closed unpaid (reconciliation cancels with it). */
const ABANDONED = 'abandoned';

const DISPUTE_EVENTS = new Set(['charge.dispute.created', 'charge.dispute.updated', 'charge.dispute.closed', 'charge.dispute.funds_withdrawn', 'charge.dispute.funds_reinstated']);

/** The stage a dispute event puts its dispute at; the funds events say what happened to the money whatever the status lags at. */
export function stripeDisputeStage(type: string, status: unknown): DisputeStage | null {
  const stage = typeof status === 'string' ? (DISPUTE_STAGES[status] ?? null) : null;
  if (type === 'charge.dispute.funds_reinstated') return 'won';
  if (type === 'charge.dispute.funds_withdrawn') return stage === 'lost' ? 'lost' : 'open';
  if (status === undefined || status === null) return type === 'charge.dispute.closed' ? null : 'open';
  return stage;
}

/** An id, or the expanded object's id. */
const idOf = (v: unknown): string | null => str(v) ?? str(obj(v)?.id);
const upper = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 && v.length <= 8 ? v.toUpperCase() : null);

/** The top-up id of a PaymentIntent an auto top-up made (its metadata carries `autoTopup`, the crossing's key). */
function autoTopupIdOf(o: Obj): string | null {
  const metadata = obj(o.metadata);
  return metadata && str(metadata.autoTopup) ? str(metadata.topupId) : null;
}

export function readStripeReport(event: Pick<Stripe.Event, 'id' | 'type' | 'data' | 'created'>): SettlementReport {
  const o: Obj | null = obj(event.data?.object);
  const eventId = str(event.id);
  if (!o || !eventId) return { kind: 'invalid', reason: 'no event id or data.object' };
  const type = String(event.type);
  const base = {
    kind: 'report' as const,
    type,
    key: `stripe:${eventId}`,
    at: typeof event.created === 'number' && Number.isSafeInteger(event.created) && event.created > 0 ? new Date(event.created * 1000) : null,
    topupId: null,
    currency: null,
    paymentAmount: null,
  };
  switch (type) {
    case 'payment_intent.succeeded': {
      const id = str(o.id);
      if (!id) return { kind: 'invalid', reason: 'no PaymentIntent id' };
      return {
        ...base,
        find: { providerRef: id, autoTopupId: autoTopupIdOf(o) },
        topupId: str(obj(o.metadata)?.topupId),
        currency: upper(o.currency) ?? '',
        input: (currency) => {
          const amount = fromMinorUnits(o.amount_received, currency);
          return amount && { kind: 'captured', amount, captureRef: idOf(o.latest_charge) };
        },
      };
    }
    case 'payment_intent.payment_failed':
    case 'payment_intent.canceled': {
      const id = str(o.id);
      if (!id) return { kind: 'invalid', reason: 'no PaymentIntent id' };
      const message = str(obj(o.last_payment_error)?.message, 1000) ?? str(o.cancellation_reason) ?? type;
      const reason = `stripe ${type}: ${message}`.slice(0, MAX_REPORT_REASON_CHARS);
      // A failed attempt leaves the PaymentIntent open to another; a cancelled one is closed for good,
      // and one cancelled as `abandoned` (what reconciliation cancels when its window closes) expired.
      if (type === 'payment_intent.canceled' && o.cancellation_reason === ABANDONED) return { ...base, find: { providerRef: id, autoTopupId: autoTopupIdOf(o) }, input: () => ({ kind: 'expired', reason }) };
      return { ...base, find: { providerRef: id, autoTopupId: autoTopupIdOf(o) }, input: () => (type === 'payment_intent.canceled' ? { kind: 'canceled', reason } : { kind: 'attempt_failed', reason }) };
    }
    case 'charge.refunded': {
      const pi = idOf(o.payment_intent);
      const charge = str(o.id);
      if (!pi && !charge) return { kind: 'invalid', reason: 'a charge without its id or PaymentIntent' };
      // amount_refunded is the charge's cumulative total: the newest report of it is what Stripe keeps.
      return {
        ...base,
        find: { providerRef: pi, captureRefs: [charge] },
        currency: upper(o.currency) ?? '',
        input: (currency) => {
          const total = fromMinorUnits(o.amount_refunded, currency);
          return total && { kind: 'refund', refundId: null, amount: null, counts: true, total };
        },
      };
    }
    default: {
      if (!DISPUTE_EVENTS.has(type)) return { kind: 'ignored', reason: `event type ${type} is not used` };
      const disputeId = str(o.id);
      const pi = idOf(o.payment_intent);
      const charge = idOf(o.charge);
      if (!disputeId || (!pi && !charge)) return { kind: 'invalid', reason: 'a dispute without its id, charge or PaymentIntent' };
      const stage = stripeDisputeStage(type, o.status);
      if (!stage) return { kind: 'invalid', reason: `a dispute of unknown status ${String(o.status).slice(0, 40)}` };
      return {
        ...base,
        find: { providerRef: pi, captureRefs: [charge] },
        currency: upper(o.currency) ?? '',
        input: (currency) => {
          const amount = fromMinorUnits(o.amount, currency);
          return amount && { kind: 'dispute', disputeId, amount, stage };
        },
      };
    }
  }
}

/**
 * What a PaymentIntent retrieved from Stripe's API says (reconciliation, a lost webhook): the
 * same inputs as its events, keyed by the PaymentIntent and its state (a repeat of the same
 * answer is the same fact). `now`, when it was read, times the refunded total it carries: the
 * latest figure Stripe has.
 */
export function readStripeIntentReports(pi: StripePaymentIntent, now: Date): SettlementReport[] {
  const base = { kind: 'report' as const, type: `payment_intent ${pi.status}`, find: { providerRef: pi.id }, topupId: pi.topupId, currency: pi.currency || '', paymentAmount: null, at: null };
  const reason = (what: string) => `stripe payment_intent ${what}`.slice(0, MAX_REPORT_REASON_CHARS);
  switch (pi.status) {
    case 'succeeded': {
      const reports: SettlementReport[] = [
        { ...base, key: `stripe:pi:${pi.id}:succeeded`, input: (currency) => { const amount = fromMinorUnits(pi.amountReceivedMinor, currency); return amount && { kind: 'captured', amount, captureRef: pi.latestChargeId }; } },
      ];
      if (pi.amountRefundedMinor !== null && pi.amountRefundedMinor !== '0') {
        const refunded = pi.amountRefundedMinor;
        reports.push({ ...base, at: now, key: `stripe:charge:${pi.latestChargeId ?? pi.id}:refunded:${refunded}`, input: (currency) => { const total = fromMinorUnits(refunded, currency); return total && { kind: 'refund', refundId: null, amount: null, counts: true, total }; } });
      }
      return reports;
    }
    case 'canceled':
      if (pi.cancellationReason === ABANDONED) return [{ ...base, currency: null, key: `stripe:pi:${pi.id}:canceled`, input: () => ({ kind: 'expired', reason: reason('canceled: abandoned') }) }];
      return [{ ...base, currency: null, key: `stripe:pi:${pi.id}:canceled`, input: () => ({ kind: 'canceled', reason: reason(`canceled${pi.cancellationReason ? `: ${pi.cancellationReason}` : ''}`) }) }];
    case 'requires_payment_method':
      // Waiting for a payment method again: after a failed attempt when there is an error, or never tried.
      if (pi.failureMessage === null) return [];
      return [{ ...base, currency: null, key: `stripe:pi:${pi.id}:failed:${pi.latestChargeId ?? createHash('sha256').update(pi.failureMessage).digest('hex').slice(0, 16)}`, input: () => ({ kind: 'attempt_failed', reason: reason(`payment failed: ${pi.failureMessage}`) }) }];
    default:
      // processing, requires_action, requires_confirmation, requires_capture: not settled yet.
      return [];
  }
}
