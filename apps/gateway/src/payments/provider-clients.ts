import { randomBytes } from 'crypto';
import { Currency, Decimal } from '@billing/domain';

/**
 * The calls to a provider's API that starting a top-up needs. They go over the network, so the
 * service makes them before writing anything and never inside a database transaction.
 */
export interface StripeClient {
  /** Creates a PaymentIntent for the amount (in the currency's minor unit), `metadata.topupId` set. */
  createPaymentIntent(input: { topupId: string; orgId: string; amountMinor: string; currency: Currency }): Promise<{ id: string; clientSecret: string }>;
}

export interface PayPalClient {
  /** Creates an order (intent CAPTURE) whose purchase unit carries `custom_id: topupId`. */
  createOrder(input: { topupId: string; amount: Decimal; currency: Currency }): Promise<{ orderId: string }>;
}

export const STRIPE_CLIENT = Symbol('StripeClient');
export const PAYPAL_CLIENT = Symbol('PayPalClient');

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function randomText(length: number, alphabet = ALNUM): string {
  const bytes = randomBytes(length);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

/**
 * Makes the references up instead of calling Stripe (this engine runs without access to the
 * provider). A deployment binds STRIPE_CLIENT to an implementation that calls
 * `stripe.paymentIntents.create({ amount, currency, metadata: { topupId, orgId } })` and
 * returns the PaymentIntent's id and client_secret; nothing else changes.
 */
export class OfflineStripeClient implements StripeClient {
  async createPaymentIntent(): Promise<{ id: string; clientSecret: string }> {
    const id = `pi_${randomText(24)}`;
    return { id, clientSecret: `${id}_secret_${randomText(24)}` };
  }
}

/**
 * Makes an order id up instead of calling PayPal's Orders API (`POST /v2/checkout/orders`),
 * which a deployment's PAYPAL_CLIENT does, with `purchase_units[0].custom_id = topupId`.
 */
export class OfflinePayPalClient implements PayPalClient {
  async createOrder(): Promise<{ orderId: string }> {
    return { orderId: randomText(17, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789') };
  }
}
