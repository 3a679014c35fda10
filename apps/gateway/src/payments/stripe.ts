import Stripe from 'stripe';

/** How old a Stripe-Signature timestamp may be: Stripe's own default, which stops a captured request being replayed later. */
export const STRIPE_SIGNATURE_TOLERANCE_SECONDS = 300;
/** Longer failure messages are cut: enough to diagnose. */
const MAX_REASON_CHARS = 200;

/**
 * Checks the Stripe-Signature header over the raw body with the official package (HMAC-SHA256
 * of `<t>.<body>` with the endpoint's signing secret, timestamp within the tolerance) and
 * returns the event. Throws Stripe's SignatureVerificationError otherwise.
 */
export function verifyStripeEvent(rawBody: Buffer, signatureHeader: string | undefined, signingSecret: string, toleranceSeconds = STRIPE_SIGNATURE_TOLERANCE_SECONDS): Stripe.Event {
  if (!signatureHeader) throw new Error('no Stripe-Signature header');
  return Stripe.webhooks.constructEvent(rawBody, signatureHeader, signingSecret, toleranceSeconds);
}

/** What a verified Stripe event means for a top-up. */
export type StripeOutcome =
  | { readonly kind: 'succeeded'; readonly paymentIntentId: string; readonly topupId: string | null; readonly amountMinor: unknown; readonly currency: string }
  | { readonly kind: 'failed'; readonly paymentIntentId: string; readonly reason: string }
  /** The money went back to the payer (refund, dispute). */
  | { readonly kind: 'reversed'; readonly paymentIntentId: string; readonly reason: string }
  | { readonly kind: 'ignored'; readonly reason: string };

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** The PaymentIntent a charge or dispute belongs to (an id, or the expanded object). */
function paymentIntentOf(o: Obj): string | null {
  return str(o.payment_intent) ?? str(obj(o.payment_intent)?.id);
}

export function readStripeEvent(event: Pick<Stripe.Event, 'type' | 'data'>): StripeOutcome {
  const o = obj(event.data?.object);
  if (!o) return { kind: 'ignored', reason: 'no data.object' };
  switch (event.type) {
    case 'payment_intent.succeeded': {
      const id = str(o.id);
      if (!id) return { kind: 'ignored', reason: 'no PaymentIntent id' };
      return { kind: 'succeeded', paymentIntentId: id, topupId: str(obj(o.metadata)?.topupId), amountMinor: o.amount_received, currency: String(o.currency ?? '').toUpperCase() };
    }
    case 'payment_intent.payment_failed':
    case 'payment_intent.canceled': {
      const id = str(o.id);
      if (!id) return { kind: 'ignored', reason: 'no PaymentIntent id' };
      const message = str(obj(o.last_payment_error)?.message) ?? str(o.cancellation_reason) ?? event.type;
      return { kind: 'failed', paymentIntentId: id, reason: `stripe ${event.type}: ${message}`.slice(0, MAX_REASON_CHARS) };
    }
    case 'charge.refunded': {
      const id = paymentIntentOf(o);
      if (!id) return { kind: 'ignored', reason: 'a charge without a PaymentIntent' };
      // A partial refund is not a reversal of the top-up; it is left to an operator.
      if (o.refunded !== true) return { kind: 'ignored', reason: 'partial refund' };
      return { kind: 'reversed', paymentIntentId: id, reason: 'stripe charge.refunded' };
    }
    case 'charge.dispute.created': {
      const id = paymentIntentOf(o);
      if (!id) return { kind: 'ignored', reason: 'a dispute without a PaymentIntent' };
      return { kind: 'reversed', paymentIntentId: id, reason: `stripe charge.dispute.created: ${str(o.reason) ?? 'dispute'}`.slice(0, MAX_REASON_CHARS) };
    }
    default:
      return { kind: 'ignored', reason: `event type ${event.type} is not used` };
  }
}
