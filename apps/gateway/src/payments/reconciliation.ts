import { PayPalOrder, StripePaymentIntent, VnpayQueryResult } from './provider-clients';

/**
 * The pure rules of reconciliation (payments.reconciler.ts does the asking): when to ask about a
 * pending top-up again, when its payment window is closed for good, and whether what its provider
 * answered lets it expire.
 */

/** What asking a provider about a top-up came to. */
export type ProviderLookup =
  | { readonly kind: 'stripe'; readonly pi: StripePaymentIntent }
  | { readonly kind: 'paypal'; readonly order: PayPalOrder }
  /** querydr's answer, `found: false` for VNPAY's 91 (no such transaction: the buyer never reached VNPAY). */
  | { readonly kind: 'vnpay'; readonly result: VnpayQueryResult }
  /** Stripe or PayPal answered 404: no such PaymentIntent or order (PayPal removes expired orders). */
  | { readonly kind: 'not_found'; readonly detail: string }
  /** The provider could not be asked (down, rate-limited, our credentials refused, offline clients). */
  | { readonly kind: 'unreachable'; readonly detail: string };

/** What one reconciliation of a pending top-up came to (the outcome label of gateway_payment_reconciliations_total). */
export type ReconcileOutcome =
  /** The provider had taken the money: credited now (its webhook was lost). */
  | 'captured'
  /** The payment failed or was cancelled at the provider. */
  | 'failed'
  /** The window closed unpaid, the provider agreed: expired. */
  | 'expired'
  /** Still open at the provider: asked again later. */
  | 'still_pending'
  /** Settled meanwhile some other way (a webhook came), or into another state (refunded before it was credited). */
  | 'settled'
  /** The provider has no such payment (and its window is still open). */
  | 'not_found'
  | 'unreachable'
  /** The provider's answer does not match the top-up (amount, currency, our id): nothing recorded, counted as a mismatch. */
  | 'mismatch';

/** Whether the window closed, and the grace for a last-second payment's confirmation passed. */
export function expiryDue(expiresAt: Date, now: Date, graceMs: number): boolean {
  return now.getTime() >= expiresAt.getTime() + graceMs;
}

/**
 * When to ask about a still-pending top-up next: the waits double from `afterMs` with each
 * question, at most `maxBackoffMs`, and never later than the end of its window's grace (the final
 * check must not wait a backoff). A top-up past its window is asked again after the first wait.
 */
export function nextCheckAt(attempts: number, now: Date, afterMs: number, maxBackoffMs: number, expiresAt: Date, graceMs: number): Date {
  const base = Math.max(afterMs, 1000);
  const backoff = Math.min(maxBackoffMs, base * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
  let next = now.getTime() + backoff;
  const finalCheck = expiresAt.getTime() + graceMs;
  if (finalCheck > now.getTime()) next = Math.min(next, finalCheck);
  return new Date(next);
}

/** Stripe statuses a PaymentIntent can be cancelled from without money having moved (processing may yet succeed). */
const STRIPE_OPEN = new Set(['requires_payment_method', 'requires_confirmation', 'requires_action']);
/** PayPal order statuses of an order the buyer has not approved. */
const PAYPAL_UNAPPROVED = new Set(['CREATED', 'SAVED', 'PAYER_ACTION_REQUIRED']);

/**
 * Whether the provider's answer, read after the window closed, says nothing was paid and nothing
 * can be any more (so the top-up may expire): a Stripe PaymentIntent still open (it is cancelled
 * first, so that no one pays it afterwards), a PayPal order never approved or gone, a VNPAY
 * transaction unknown to VNPAY or never completed. Anything else (paid, processing, approved,
 * unreachable) is not.
 */
export function closedUnpaid(lookup: ProviderLookup): boolean {
  switch (lookup.kind) {
    case 'stripe':
      return STRIPE_OPEN.has(lookup.pi.status);
    case 'paypal':
      return PAYPAL_UNAPPROVED.has(lookup.order.status) && lookup.order.captures.length === 0;
    case 'vnpay':
      return !lookup.result.found || (lookup.result.transactionType !== '02' && lookup.result.transactionType !== '03' && lookup.result.transactionStatus === '01');
    case 'not_found':
      // PayPal removes an order that expired; Stripe never forgets a PaymentIntent, so a 404 there is another account's or a bug.
      return lookup.detail.startsWith('paypal');
    default:
      return false;
  }
}
