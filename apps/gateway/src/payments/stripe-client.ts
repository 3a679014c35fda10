import { Logger } from '@nestjs/common';
import Stripe from 'stripe';
import { Currency } from '@billing/domain';
import { ProviderCallPolicy, ProviderError, ProviderErrorKind, retryAfterMs, withRetries } from './provider-call';
import { OffSessionCharge, StripeClient, StripeCustomer, StripePaymentIntent, StripePaymentMethod, StripeRefund, StripeSetupIntent } from './provider-clients';

export const STRIPE_API_BASE_URL = 'https://api.stripe.com';

export interface StripeApiSettings {
  /** `sk_live_...` / `sk_test_...` (or a restricted `rk_...` key allowed PaymentIntents, refunds, Customers and SetupIntents, and to read PaymentMethods). */
  readonly secretKey: string;
  /** Scheme, host and port only: the SDK adds `/v1/...` (tests point it at a local fake). */
  readonly apiBaseUrl: string;
  readonly policy: ProviderCallPolicy;
}

/**
 * The official SDK, pointed at `apiBaseUrl` through its own host, port and protocol options.
 * Its network retries are off (0): the SDK retries 5xx and 409 but neither 429 nor by
 * Retry-After, so one retry policy (provider-call.ts) serves the three providers; its timeout
 * is the policy's per attempt. The SDK still sends every POST with an Idempotency-Key: ours.
 */
export function stripeSdk(settings: StripeApiSettings): Stripe {
  const url = new URL(settings.apiBaseUrl);
  return new Stripe(settings.secretKey, {
    host: url.hostname,
    port: url.port || (url.protocol === 'https:' ? 443 : 80),
    protocol: url.protocol === 'http:' ? 'http' : 'https',
    timeout: settings.policy.timeoutMs,
    maxNetworkRetries: 0,
    telemetry: false,
    appInfo: { name: 'gpu-billing-gateway' },
  });
}

/** What a Stripe error means for us (its type, status and Stripe-Should-Retry header decide). */
export function stripeProviderError(error: unknown): ProviderError | unknown {
  if (!(error instanceof Stripe.errors.StripeError)) return error;
  const headers = (error.headers ?? {}) as Record<string, string | undefined>;
  const status = error.statusCode;
  let kind: ProviderErrorKind;
  if (error instanceof Stripe.errors.StripeConnectionError) kind = 'unavailable';
  else if (error instanceof Stripe.errors.StripeCardError) kind = 'declined';
  else if (error instanceof Stripe.errors.StripeRateLimitError) kind = 'rate_limited';
  else if (error instanceof Stripe.errors.StripeIdempotencyError) kind = 'conflict';
  else if (error instanceof Stripe.errors.StripeAuthenticationError || error instanceof Stripe.errors.StripePermissionError) kind = 'unauthorized';
  else if (error instanceof Stripe.errors.StripeInvalidRequestError) kind = 'invalid';
  // 409: another request with the same Idempotency-Key is still running (or a lock): worth another try.
  else if (status === 409 || status === undefined || status >= 500) kind = 'unavailable';
  else kind = 'invalid';
  const shouldRetry = headers['stripe-should-retry'];
  return new ProviderError('stripe', kind, error.message || error.type, {
    status,
    code: error.code ?? error.rawType,
    retryAfterMs: retryAfterMs(headers['retry-after']) ?? undefined,
    retryable: shouldRetry === 'true' ? true : shouldRetry === 'false' ? false : status === 409 ? true : undefined,
  });
}

const minor = (amount: number | null | undefined): string => (typeof amount === 'number' && Number.isSafeInteger(amount) ? String(amount) : '0');

function toIntent(pi: Stripe.PaymentIntent): StripePaymentIntent {
  const charge = pi.latest_charge;
  const refunded = typeof charge === 'object' && charge !== null ? charge.amount_refunded : undefined;
  return {
    id: pi.id,
    clientSecret: pi.client_secret ?? null,
    status: pi.status,
    amountMinor: minor(pi.amount),
    amountReceivedMinor: minor(pi.amount_received),
    currency: String(pi.currency ?? '').toUpperCase(),
    topupId: pi.metadata?.topupId ?? null,
    latestChargeId: typeof charge === 'string' ? charge : (charge?.id ?? null),
    amountRefundedMinor: typeof refunded === 'number' && Number.isSafeInteger(refunded) ? String(refunded) : null,
    failureMessage: pi.last_payment_error?.message ?? null,
    cancellationReason: pi.cancellation_reason ?? null,
  };
}

const idOf = (value: string | { id: string } | null | undefined): string | null => (typeof value === 'string' ? value : (value?.id ?? null));

function toSetupIntent(seti: Stripe.SetupIntent): StripeSetupIntent {
  const orgId = seti.metadata?.orgId;
  return {
    id: seti.id,
    clientSecret: seti.client_secret ?? null,
    status: seti.status,
    usage: seti.usage,
    customer: idOf(seti.customer),
    paymentMethod: idOf(seti.payment_method),
    orgId: typeof orgId === 'string' && orgId !== '' ? orgId : null,
  };
}

/** A count of minor units as the SDK wants it: a safe integer. */
function amountOf(amountMinor: string): number {
  const n = Number(amountMinor);
  if (!/^[0-9]{1,15}$/.test(amountMinor) || !Number.isSafeInteger(n) || n <= 0) throw new Error(`not a positive count of minor units: '${amountMinor}'`);
  return n;
}

/**
 * Stripe's API through the official `stripe` package: PaymentIntent create (our top-up id as
 * the Idempotency-Key and in metadata), retrieve, refund (in full, or part of it); a payment
 * method's and a customer's retrieve (whose card an auto top-up would charge); a customer's
 * create and a SetupIntent's create and retrieve (saving that card).
 */
export class StripeApiClient implements StripeClient {
  private readonly logger = new Logger('StripeClient');

  constructor(
    private readonly settings: StripeApiSettings,
    private readonly stripe: Stripe = stripeSdk(settings),
  ) {}

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetries(
      this.settings.policy,
      async () => {
        try {
          return await fn();
        } catch (error) {
          throw stripeProviderError(error);
        }
      },
      { onRetry: (error, retry, waitMs) => this.logger.warn({ msg: 'stripe call retried', call: what, retry, waitMs, kind: error.kind, status: error.details.status, error: error.message }) },
    );
  }

  async createPaymentIntent(input: { topupId: string; orgId: string; amountMinor: string; currency: Currency }): Promise<StripePaymentIntent & { clientSecret: string }> {
    const amount = amountOf(input.amountMinor);
    const pi = await this.call('paymentIntents.create', () =>
      this.stripe.paymentIntents.create(
        {
          amount,
          currency: input.currency.toLowerCase(),
          automatic_payment_methods: { enabled: true },
          metadata: { topupId: input.topupId, orgId: input.orgId },
          description: `Top-up ${input.topupId}`,
        },
        // The top-up id: a retry after a lost answer, or a second start of the same top-up, gets the same PaymentIntent.
        { idempotencyKey: input.topupId },
      ),
    );
    const intent = toIntent(pi);
    if (!intent.clientSecret) throw new ProviderError('stripe', 'unavailable', `PaymentIntent ${pi.id} came back without a client_secret`);
    return { ...intent, clientSecret: intent.clientSecret };
  }

  async chargeOffSession(input: OffSessionCharge): Promise<StripePaymentIntent> {
    const amount = amountOf(input.amountMinor);
    const pi = await this.call('paymentIntents.create (off-session)', () =>
      this.stripe.paymentIntents.create(
        {
          amount,
          currency: input.currency.toLowerCase(),
          customer: input.customer,
          payment_method: input.paymentMethod,
          confirm: true,
          off_session: true,
          metadata: { topupId: input.topupId, orgId: input.orgId, autoTopup: input.idempotencyKey },
          description: `Auto top-up ${input.topupId}`,
        },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    return toIntent(pi);
  }

  async createCustomer(input: { orgId: string; idempotencyKey: string }): Promise<StripeCustomer> {
    const customer = await this.call('customers.create', () =>
      this.stripe.customers.create({ metadata: { orgId: input.orgId }, description: `Organization ${input.orgId}` }, { idempotencyKey: input.idempotencyKey }),
    );
    return { id: customer.id, deleted: false, orgId: customer.metadata?.orgId || null };
  }

  async createSetupIntent(input: { orgId: string; customer: string; idempotencyKey: string }): Promise<StripeSetupIntent & { clientSecret: string }> {
    const seti = await this.call('setupIntents.create', () =>
      this.stripe.setupIntents.create(
        // Cards only (this API version's allowed_payment_method_types): auto top-up charges cards off-session.
        { customer: input.customer, usage: 'off_session', allowed_payment_method_types: ['card'], metadata: { orgId: input.orgId }, description: `Auto top-up card of ${input.orgId}` },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    const intent = toSetupIntent(seti);
    if (!intent.clientSecret) throw new ProviderError('stripe', 'unavailable', `SetupIntent ${seti.id} came back without a client_secret`);
    return { ...intent, clientSecret: intent.clientSecret };
  }

  async retrieveSetupIntent(setupIntentId: string): Promise<StripeSetupIntent> {
    return toSetupIntent(await this.call('setupIntents.retrieve', () => this.stripe.setupIntents.retrieve(setupIntentId)));
  }

  async retrievePaymentMethod(paymentMethodId: string): Promise<StripePaymentMethod> {
    const pm = await this.call('paymentMethods.retrieve', () => this.stripe.paymentMethods.retrieve(paymentMethodId));
    const customer = pm.customer;
    return { id: pm.id, customer: typeof customer === 'string' ? customer : (customer?.id ?? null) };
  }

  async retrieveCustomer(customerId: string): Promise<StripeCustomer> {
    const customer = await this.call('customers.retrieve', () => this.stripe.customers.retrieve(customerId));
    if ('deleted' in customer && customer.deleted) return { id: customer.id, deleted: true, orgId: null };
    const orgId = (customer as Stripe.Customer).metadata?.orgId;
    return { id: customer.id, deleted: false, orgId: typeof orgId === 'string' && orgId !== '' ? orgId : null };
  }

  async retrievePaymentIntent(paymentIntentId: string): Promise<StripePaymentIntent> {
    // The latest charge expanded: what was refunded of it, for reconciliation and the mismatch report.
    return toIntent(await this.call('paymentIntents.retrieve', () => this.stripe.paymentIntents.retrieve(paymentIntentId, { expand: ['latest_charge'] })));
  }

  async cancelPaymentIntent(paymentIntentId: string, idempotencyKey: string): Promise<StripePaymentIntent> {
    return toIntent(await this.call('paymentIntents.cancel', () => this.stripe.paymentIntents.cancel(paymentIntentId, { cancellation_reason: 'abandoned' }, { idempotencyKey })));
  }

  async refund(input: { paymentIntentId: string; amountMinor?: string; idempotencyKey: string; reason?: string }): Promise<StripeRefund> {
    const params: Stripe.RefundCreateParams = { payment_intent: input.paymentIntentId, metadata: input.reason ? { reason: input.reason.slice(0, 500) } : undefined };
    if (input.amountMinor !== undefined) params.amount = amountOf(input.amountMinor);
    const refund = await this.call('refunds.create', () => this.stripe.refunds.create(params, { idempotencyKey: input.idempotencyKey }));
    return {
      id: refund.id,
      status: refund.status ?? 'pending',
      amountMinor: minor(refund.amount),
      currency: String(refund.currency ?? '').toUpperCase(),
      paymentIntentId: typeof refund.payment_intent === 'string' ? refund.payment_intent : (refund.payment_intent?.id ?? input.paymentIntentId),
    };
  }
}
