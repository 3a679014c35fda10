import Stripe from 'stripe';

/** How old a Stripe-Signature timestamp may be: Stripe's own default, which stops a captured request being replayed later. */
export const STRIPE_SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * Checks the Stripe-Signature header over the raw body with the official package (HMAC-SHA256
 * of `<t>.<body>` with the endpoint's signing secret, timestamp within the tolerance) and
 * returns the event. Throws Stripe's SignatureVerificationError otherwise.
 */
export function verifyStripeEvent(rawBody: Buffer, signatureHeader: string | undefined, signingSecret: string, toleranceSeconds = STRIPE_SIGNATURE_TOLERANCE_SECONDS): Stripe.Event {
  if (!signatureHeader) throw new Error('no Stripe-Signature header');
  return Stripe.webhooks.constructEvent(rawBody, signatureHeader, signingSecret, toleranceSeconds);
}
