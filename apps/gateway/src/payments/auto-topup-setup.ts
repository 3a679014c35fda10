import { randomUUID } from 'crypto';
import { ErrorCode, errorReply } from '@billing/contracts';
import { AutoTopupRepository } from '@billing/persistence';
import { checkPaymentMethodOwner, PaymentMethodRefusal } from './auto-topup-request';
import { ProviderError } from './provider-call';
import { StripeClient } from './provider-clients';

/** What `POST /api/v1/autotopup/setup` answers: what Stripe.js needs to collect the card (`stripe.elements({clientSecret})`, `confirmSetup`). */
export interface CardSetup {
  readonly setupIntentId: string;
  readonly clientSecret: string;
  readonly customerId: string;
  /** The gateway's STRIPE_PUBLISHABLE_KEY; null when it has none (the caller's Stripe.js must then use the account's own). */
  readonly publishableKey: string | null;
}

type Stripe = Pick<StripeClient, 'createCustomer' | 'createSetupIntent' | 'retrieveCustomer' | 'retrieveSetupIntent' | 'retrievePaymentMethod'>;

const unavailable = (error: ProviderError, what: string): PaymentMethodRefusal => ({
  status: 503,
  reply: errorReply(ErrorCode.UNAVAILABLE, `Stripe could not ${what} (${error.message}); nothing was saved, try again`),
});

/**
 * The organization's one Stripe customer: the one remembered (`stripe_customers`, or the one its
 * saved settings name), if Stripe still has it as the organization's; else a new one, created
 * with `metadata.orgId` under an idempotency key naming the organization (and the customer it
 * replaces), so two setups at once, or a retry after a lost answer, make one customer. The first
 * remembered wins. Stripe's customer search is not used: it is not read-after-write consistent.
 */
async function organizationCustomer(stripe: Stripe, repository: AutoTopupRepository, orgId: string): Promise<string> {
  const known = await repository.stripeCustomer(orgId);
  if (known) {
    const customer = await stripe.retrieveCustomer(known).catch((error) => {
      if (error instanceof ProviderError && error.kind === 'invalid' && error.details.status === 404) return null;
      throw error;
    });
    if (customer && !customer.deleted && customer.orgId === orgId) return known;
  }
  const created = await stripe.createCustomer({ orgId, idempotencyKey: known ? `stripe-customer:${orgId}:replaces:${known}` : `stripe-customer:${orgId}` });
  return repository.rememberStripeCustomer(orgId, created.id, known);
}

/**
 * Starts saving a card for auto top-up: the organization's customer (found or created), then a
 * SetupIntent on it (`usage: off_session`, cards, `metadata.orgId`) under a key of its own. Stripe
 * unreachable, or PAYMENT_PROVIDERS=offline: 503 UNAVAILABLE (nothing is remembered unless Stripe
 * made the customer).
 */
export async function startCardSetup(stripe: Stripe, repository: AutoTopupRepository, orgId: string, publishableKey: string | null): Promise<CardSetup | PaymentMethodRefusal> {
  try {
    const customerId = await organizationCustomer(stripe, repository, orgId);
    const seti = await stripe.createSetupIntent({ orgId, customer: customerId, idempotencyKey: `autotopup-setup:${orgId}:${randomUUID()}` });
    return { setupIntentId: seti.id, clientSecret: seti.clientSecret, customerId, publishableKey };
  } catch (error) {
    if (error instanceof ProviderError) return unavailable(error, 'set up a card');
    throw error;
  }
}

/**
 * The card a SetupIntent saved, if it may be the caller's auto top-up card: the SetupIntent made
 * for the caller's organization (`metadata.orgId`), succeeded, for off-session use, and then the
 * same rule as for ids given directly (checkPaymentMethodOwner: the payment method attached to
 * the customer, the customer the organization's). Otherwise 403 PAYMENT_METHOD_NOT_YOURS (also
 * for an id Stripe does not know) or 400 (not confirmed yet); Stripe unreachable 503.
 */
export async function cardOfSetupIntent(stripe: Stripe, orgId: string, setupIntentId: string): Promise<{ customer: string; paymentMethod: string } | PaymentMethodRefusal> {
  const notYours = (why: string): PaymentMethodRefusal => ({
    status: 403,
    reply: errorReply(ErrorCode.PAYMENT_METHOD_NOT_YOURS, `SetupIntent '${setupIntentId}' cannot be used by this organization: ${why}`),
  });
  let seti;
  try {
    seti = await stripe.retrieveSetupIntent(setupIntentId);
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    if (error.kind === 'invalid' && error.details.status === 404) return notYours('Stripe knows no such SetupIntent');
    return unavailable(error, 'be asked about this SetupIntent');
  }
  if (seti.orgId !== orgId) return notYours('it was not created for this organization (its metadata.orgId)');
  const unusable = (why: string): PaymentMethodRefusal => ({
    status: 400,
    reply: errorReply(ErrorCode.INVALID_FIELD, `'setupIntentId' ${setupIntentId} ${why}; nothing was saved`),
  });
  if (seti.status !== 'succeeded') return unusable(`has not succeeded (its status is ${seti.status}): the card must be confirmed first (Stripe.js confirmSetup)`);
  if (seti.usage !== 'off_session') return unusable(`was set up for ${seti.usage} use, not off_session: its card may not be charged without the customer`);
  if (!seti.customer || !seti.paymentMethod) return unusable('names no customer or no payment method');
  const card = { customer: seti.customer, paymentMethod: seti.paymentMethod };
  const notOurs = await checkPaymentMethodOwner(stripe, orgId, card);
  return notOurs ?? card;
}
