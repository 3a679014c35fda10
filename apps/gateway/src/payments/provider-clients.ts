import { randomBytes } from 'crypto';
import { Currency, Decimal } from '@billing/domain';
import { ProviderError } from './provider-call';
import { PaypalTransmission } from './paypal';

/**
 * The calls to the providers' APIs. They go over the network, so they are made outside any
 * database transaction (the repositories open none), with the timeouts and retries of
 * provider-call.ts. Failures are ProviderErrors (`declined`, `invalid`, `unauthorized`,
 * `conflict`, `rate_limited`, `unavailable`). The implementations: stripe-client.ts (the
 * official SDK), paypal-client.ts and vnpay-api.ts (HTTPS), bound by default; the offline ones
 * below only with PAYMENT_PROVIDERS=offline.
 */
export interface StripePaymentIntent {
  readonly id: string;
  readonly clientSecret: string | null;
  /** Stripe's: requires_payment_method, requires_confirmation, requires_action, processing, requires_capture, canceled, succeeded. */
  readonly status: string;
  readonly amountMinor: string;
  readonly amountReceivedMinor: string;
  /** Upper case. */
  readonly currency: string;
  /** Our top-up id, from `metadata.topupId`. */
  readonly topupId: string | null;
  readonly latestChargeId: string | null;
  /** The latest charge's `amount_refunded`, when it came expanded (retrieve asks for it); null when unknown. */
  readonly amountRefundedMinor: string | null;
  /** `last_payment_error.message`: why the last attempt failed. */
  readonly failureMessage: string | null;
  /** Why it was cancelled (`abandoned`: by us, when its payment window closed). */
  readonly cancellationReason: string | null;
}

export interface StripeRefund {
  readonly id: string;
  /** Stripe's: pending, requires_action, succeeded, failed, canceled. */
  readonly status: string;
  readonly amountMinor: string;
  readonly currency: string;
  readonly paymentIntentId: string;
}

export interface OffSessionCharge {
  readonly topupId: string;
  readonly orgId: string;
  readonly amountMinor: string;
  readonly currency: Currency;
  /** Stripe's customer (`cus_...`) and the payment method saved to it (`pm_...`). */
  readonly customer: string;
  readonly paymentMethod: string;
  readonly idempotencyKey: string;
}

/** A saved payment method (`pm_...`) and the customer it is attached to (null: attached to none). */
export interface StripePaymentMethod {
  readonly id: string;
  readonly customer: string | null;
}

/** A customer (`cus_...`): `metadata.orgId` names the organization it was created for (the gateway's convention); deleted ones have none. */
export interface StripeCustomer {
  readonly id: string;
  readonly deleted: boolean;
  readonly orgId: string | null;
}

/** A SetupIntent (`seti_...`): a card saved to a customer for later charges, once `succeeded`; `metadata.orgId` names the organization it was made for. */
export interface StripeSetupIntent {
  readonly id: string;
  readonly clientSecret: string | null;
  /** Stripe's: requires_payment_method, requires_confirmation, requires_action, processing, canceled, succeeded. */
  readonly status: string;
  /** `off_session` or `on_session`. */
  readonly usage: string;
  readonly customer: string | null;
  /** The payment method set up (attached to the customer once succeeded). */
  readonly paymentMethod: string | null;
  readonly orgId: string | null;
}

export interface StripeClient {
  /** Creates a customer for the organization (`metadata.orgId`); `idempotencyKey` names this one creation. */
  createCustomer(input: { orgId: string; idempotencyKey: string }): Promise<StripeCustomer>;
  /** Creates a SetupIntent saving a card to `customer` for off-session charges (`usage: off_session`, `metadata.orgId`). */
  createSetupIntent(input: { orgId: string; customer: string; idempotencyKey: string }): Promise<StripeSetupIntent & { clientSecret: string }>;
  /** A SetupIntent; one Stripe does not know is an `invalid` ProviderError with status 404. */
  retrieveSetupIntent(setupIntentId: string): Promise<StripeSetupIntent>;
  /** Creates a PaymentIntent for the amount (in the currency's minor unit), `metadata.topupId` set; the top-up id is the idempotency key. */
  createPaymentIntent(input: { topupId: string; orgId: string; amountMinor: string; currency: Currency }): Promise<StripePaymentIntent & { clientSecret: string }>;
  /**
   * Charges a customer's saved payment method without the customer present (an auto top-up):
   * a PaymentIntent created with `confirm: true`, `off_session: true`, `customer` and
   * `payment_method`; `idempotencyKey` names the one charge (a retry gets the same PaymentIntent).
   * A decline (or a card that needs the customer: `authentication_required`) is a `declined` ProviderError.
   */
  chargeOffSession(input: OffSessionCharge): Promise<StripePaymentIntent>;
  /** A payment method and its customer; one Stripe does not know is an `invalid` ProviderError with status 404. */
  retrievePaymentMethod(paymentMethodId: string): Promise<StripePaymentMethod>;
  /** A customer and the organization in its metadata; one Stripe does not know is an `invalid` ProviderError with status 404. */
  retrieveCustomer(customerId: string): Promise<StripeCustomer>;
  /** The PaymentIntent with its latest charge expanded (what was refunded of it). */
  retrievePaymentIntent(paymentIntentId: string): Promise<StripePaymentIntent>;
  /** Cancels a PaymentIntent not paid (its payment window closed): no payment can be made with it afterwards. */
  cancelPaymentIntent(paymentIntentId: string, idempotencyKey: string): Promise<StripePaymentIntent>;
  /** Refunds the PaymentIntent's charge, in full or `amountMinor` of it; `idempotencyKey` names this refund. */
  refund(input: { paymentIntentId: string; amountMinor?: string; idempotencyKey: string; reason?: string }): Promise<StripeRefund>;
}

export interface PayPalCapture {
  readonly id: string;
  /** PayPal's: COMPLETED, PENDING, DECLINED, PARTIALLY_REFUNDED, REFUNDED, FAILED. */
  readonly status: string;
  readonly amount: Decimal | null;
  readonly currency: string | null;
  /** Our top-up id (`custom_id`). */
  readonly topupId: string | null;
}

export interface PayPalOrder {
  readonly id: string;
  /** PayPal's: CREATED, SAVED, APPROVED, VOIDED, COMPLETED, PAYER_ACTION_REQUIRED. */
  readonly status: string;
  /** Where the buyer approves the order (the `payer-action` or `approve` link). */
  readonly approveUrl: string | null;
  readonly topupId: string | null;
  readonly captures: readonly PayPalCapture[];
}

export interface PayPalRefund {
  readonly id: string;
  /** PayPal's: COMPLETED, PENDING, CANCELLED, FAILED. */
  readonly status: string;
  readonly amount: Decimal | null;
  readonly currency: string | null;
  readonly captureId: string | null;
}

export interface PayPalClient {
  /** Creates an order (intent CAPTURE) whose purchase unit carries `custom_id: topupId`; the top-up id is the PayPal-Request-Id. */
  createOrder(input: { topupId: string; amount: Decimal; currency: Currency }): Promise<{ orderId: string; approveUrl: string | null }>;
  /** Captures an order the buyer approved; `requestId` (PayPal-Request-Id) makes a repeat return the first capture. */
  captureOrder(orderId: string, requestId: string): Promise<PayPalOrder>;
  getOrder(orderId: string): Promise<PayPalOrder>;
  /** Refunds a capture, in full or `amount` of it. */
  refundCapture(input: { captureId: string; amount?: Decimal; currency: Currency; requestId: string; note?: string }): Promise<PayPalRefund>;
  /** PayPal's verify-webhook-signature API: true if PayPal says SUCCESS. */
  verifyWebhookSignature(input: { transmission: PaypalTransmission; webhookId: string; rawBody: Buffer }): Promise<boolean>;
}

export type VnpayQueryResult =
  | { readonly found: false }
  | {
      readonly found: true;
      readonly txnRef: string;
      /** VNPAY's `vnp_TransactionStatus`: 00 paid, 01 not completed, 02 error, 04 reversed, 05/06 refund under way, 07 suspected fraud, 09 refund refused. */
      readonly transactionStatus: string;
      readonly paid: boolean;
      readonly transactionNo: string | null;
      /** 01 payment, 02 full refund, 03 partial refund. */
      readonly transactionType: string | null;
      /** In dong. */
      readonly amount: Decimal | null;
      readonly bankCode: string | null;
      readonly payDate: string | null;
    };

export interface VnpayRefundResult {
  /** `accepted` (00), or `already_requested` (94: a refund of it is already under way at VNPAY). */
  readonly status: 'accepted' | 'already_requested';
  /** The vnp_RequestId used: a retry of this refund uses it again. */
  readonly requestId: string;
  readonly transactionNo: string | null;
  readonly amount: Decimal | null;
  readonly transactionStatus: string | null;
}

export interface VnpayClient {
  /** VNPAY's `querydr`: what became of the payment `txnRef` created at `transactionDate` (its vnp_CreateDate). */
  queryTransaction(input: { txnRef: string; transactionDate: Date; orderInfo?: string }): Promise<VnpayQueryResult>;
  /** VNPAY's `refund`, in full or in part; `requestId` names this refund (kept across retries). */
  refund(input: { txnRef: string; amount: Decimal; full: boolean; transactionNo: string | null; transactionDate: Date; createBy: string; orderInfo?: string; requestId?: string }): Promise<VnpayRefundResult>;
}

export const STRIPE_CLIENT = Symbol('StripeClient');
export const PAYPAL_CLIENT = Symbol('PayPalClient');
export const VNPAY_CLIENT = Symbol('VnpayClient');

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function randomText(length: number, alphabet = ALNUM): string {
  const bytes = randomBytes(length);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

/** What an offline client answers to a call that would need the provider. */
function offline(provider: 'stripe' | 'paypal' | 'vnpay', call: string): ProviderError {
  return new ProviderError(provider, 'unavailable', `${call} is not available with PAYMENT_PROVIDERS=offline`);
}

/**
 * PAYMENT_PROVIDERS=offline (development, and tests that do not need the providers; refused in
 * production): the references are made up, in the providers' formats, and nothing leaves the
 * machine. Starting a top-up works; refunds and queries refuse.
 */
export class OfflineStripeClient implements StripeClient {
  private readonly created = new Map<string, StripePaymentIntent>();

  async createPaymentIntent(input: { topupId: string; amountMinor: string; currency: Currency }): Promise<StripePaymentIntent & { clientSecret: string }> {
    const id = `pi_${randomText(24)}`;
    const clientSecret = `${id}_secret_${randomText(24)}`;
    const intent = { id, clientSecret, status: 'requires_payment_method', amountMinor: input.amountMinor, amountReceivedMinor: '0', currency: input.currency, topupId: input.topupId, latestChargeId: null, amountRefundedMinor: null, failureMessage: null, cancellationReason: null };
    this.created.set(id, intent);
    return intent;
  }

  async chargeOffSession(): Promise<StripePaymentIntent> {
    // Offline, nothing can be charged: an auto top-up fails (and turns itself off) rather than credit money no one paid.
    throw offline('stripe', 'paymentIntents.create (off-session)');
  }

  async createCustomer(): Promise<StripeCustomer> {
    // Offline, no card can be saved: auto top-up cannot be set up.
    throw offline('stripe', 'customers.create');
  }

  async createSetupIntent(): Promise<StripeSetupIntent & { clientSecret: string }> {
    throw offline('stripe', 'setupIntents.create');
  }

  async retrieveSetupIntent(): Promise<StripeSetupIntent> {
    throw offline('stripe', 'setupIntents.retrieve');
  }

  async retrievePaymentMethod(): Promise<StripePaymentMethod> {
    // Offline, whose card it is cannot be known: auto top-up cannot be turned on.
    throw offline('stripe', 'paymentMethods.retrieve');
  }

  async retrieveCustomer(): Promise<StripeCustomer> {
    throw offline('stripe', 'customers.retrieve');
  }

  async retrievePaymentIntent(paymentIntentId: string): Promise<StripePaymentIntent> {
    const intent = this.created.get(paymentIntentId);
    if (!intent) throw new ProviderError('stripe', 'invalid', `No such payment_intent: '${paymentIntentId}' (offline)`, { status: 404, code: 'resource_missing' });
    return intent;
  }

  async cancelPaymentIntent(paymentIntentId: string): Promise<StripePaymentIntent> {
    const intent = await this.retrievePaymentIntent(paymentIntentId);
    const canceled = { ...intent, status: 'canceled', cancellationReason: 'abandoned' };
    this.created.set(paymentIntentId, canceled);
    return canceled;
  }

  async refund(): Promise<StripeRefund> {
    throw offline('stripe', 'refunds.create');
  }
}

export class OfflinePayPalClient implements PayPalClient {
  async createOrder(): Promise<{ orderId: string; approveUrl: string | null }> {
    return { orderId: randomText(17, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'), approveUrl: null };
  }

  async captureOrder(): Promise<PayPalOrder> {
    throw offline('paypal', 'orders.capture');
  }

  async getOrder(): Promise<PayPalOrder> {
    throw offline('paypal', 'orders.get');
  }

  async refundCapture(): Promise<PayPalRefund> {
    throw offline('paypal', 'captures.refund');
  }

  async verifyWebhookSignature(): Promise<boolean> {
    throw offline('paypal', 'notifications.verify-webhook-signature');
  }
}

export class OfflineVnpayClient implements VnpayClient {
  async queryTransaction(): Promise<VnpayQueryResult> {
    throw offline('vnpay', 'querydr');
  }

  async refund(): Promise<VnpayRefundResult> {
    throw offline('vnpay', 'refund');
  }
}
