import { amount as readAmount, currency as readCurrency, ErrorBody, ErrorCode, errorReply, InputError, required } from '@billing/contracts';
import { AutoTopupCaps, AutoTopupTrigger, Currency, Decimal, minorUnits, toDisplay } from '@billing/domain';
import { ProviderError } from './provider-call';
import { StripeClient } from './provider-clients';
import { TopupLimits } from './topup-limits';

/** A runway trigger is at least a minute and at most 30 days: below, a top-up could not land in time; above, it is no runway. */
export const MIN_RUNWAY_TRIGGER_SECONDS = 60;
export const MAX_RUNWAY_TRIGGER_SECONDS = 30 * 86_400;
/** Stripe's ids: `cus_...`, `pm_...` (letters, digits, `_`). */
const STRIPE_CUSTOMER = /^cus_[A-Za-z0-9_]{1,250}$/;
const STRIPE_PAYMENT_METHOD = /^pm_[A-Za-z0-9_]{1,250}$/;
const STRIPE_SETUP_INTENT = /^seti_[A-Za-z0-9_]{1,250}$/;

/** The card to charge: ids the caller has (checked with Stripe), or a SetupIntent the caller confirmed (its card and customer read from Stripe). */
export type AutoTopupCard = { readonly kind: 'ids'; readonly customer: string; readonly paymentMethod: string } | { readonly kind: 'setupIntent'; readonly setupIntentId: string };

export interface AutoTopupRequest {
  readonly trigger: AutoTopupTrigger;
  readonly target: Decimal;
  readonly currency: Currency;
  readonly caps: AutoTopupCaps;
  readonly card: AutoTopupCard;
}

const fail = (code: ErrorCode, message: string): never => {
  throw new InputError(code, message);
};

/**
 * Reads `PUT /api/v1/autotopup`: `{currency, trigger: {amount} | {runwaySeconds}, target,
 * maxPerTopup, maxPerDay, maxPerMonth, paymentMethod: {customer, id} | setupIntentId, consent: true}`. Amounts
 * are positive decimal strings in the currency's minor unit; the target is above an amount
 * trigger; maxPerTopup <= maxPerDay <= maxPerMonth; maxPerTopup within the gateway's per-top-up
 * limits. Throws InputError; nothing is written before it returns.
 */
export function parseAutoTopupRequest(body: unknown, limits: TopupLimits): AutoTopupRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail(ErrorCode.MALFORMED_JSON, 'the body must be a JSON object');
  const input = body as Record<string, unknown>;
  if (input.consent !== true) {
    fail(ErrorCode.INVALID_FIELD, "'consent' must be true: the organization agrees that its saved payment method is charged without it, up to the caps");
  }
  const currency = readCurrency(input);
  const places = minorUnits(currency);
  const triggerInput = required(input, 'trigger');
  if (typeof triggerInput !== 'object' || triggerInput === null || Array.isArray(triggerInput)) return fail(ErrorCode.INVALID_FIELD, "'trigger' must be {amount} or {runwaySeconds}");
  const t = triggerInput as Record<string, unknown>;
  const hasAmount = t.amount !== undefined;
  const hasRunway = t.runwaySeconds !== undefined;
  if (hasAmount === hasRunway) fail(ErrorCode.INVALID_FIELD, "'trigger' must have exactly one of 'amount' and 'runwaySeconds'");
  let trigger: AutoTopupTrigger;
  if (hasAmount) {
    trigger = { kind: 'amount', amount: readAmount(t, 'amount', places) };
  } else {
    const seconds = t.runwaySeconds;
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < MIN_RUNWAY_TRIGGER_SECONDS || seconds > MAX_RUNWAY_TRIGGER_SECONDS) {
      return fail(ErrorCode.INVALID_FIELD, `'trigger.runwaySeconds' must be a whole number of seconds from ${MIN_RUNWAY_TRIGGER_SECONDS} to ${MAX_RUNWAY_TRIGGER_SECONDS}`);
    }
    trigger = { kind: 'runway', seconds };
  }
  const target = readAmount(input, 'target', places);
  if (trigger.kind === 'amount' && !target.greaterThan(trigger.amount)) {
    fail(ErrorCode.INVALID_FIELD, `'target' (${toDisplay(target, currency)}) must be above the trigger (${toDisplay(trigger.amount, currency)}): a top-up must lift the balance over it`);
  }
  const caps = { maxPerTopup: readAmount(input, 'maxPerTopup', places), maxPerDay: readAmount(input, 'maxPerDay', places), maxPerMonth: readAmount(input, 'maxPerMonth', places) };
  if (caps.maxPerTopup.greaterThan(caps.maxPerDay)) fail(ErrorCode.INVALID_FIELD, `'maxPerTopup' (${toDisplay(caps.maxPerTopup, currency)}) must not be above 'maxPerDay' (${toDisplay(caps.maxPerDay, currency)})`);
  if (caps.maxPerDay.greaterThan(caps.maxPerMonth)) fail(ErrorCode.INVALID_FIELD, `'maxPerDay' (${toDisplay(caps.maxPerDay, currency)}) must not be above 'maxPerMonth' (${toDisplay(caps.maxPerMonth, currency)})`);
  const { min, max } = limits[currency];
  if (caps.maxPerTopup.lessThan(min)) fail(ErrorCode.TOPUP_AMOUNT_TOO_SMALL, `'maxPerTopup' must be at least ${toDisplay(min, currency)} ${currency}, the least top-up`);
  if (caps.maxPerTopup.greaterThan(max)) fail(ErrorCode.TOPUP_AMOUNT_TOO_LARGE, `'maxPerTopup' must be at most ${toDisplay(max, currency)} ${currency}, the largest top-up`);
  const hasMethod = input.paymentMethod !== undefined;
  if (hasMethod === (input.setupIntentId !== undefined)) fail(ErrorCode.INVALID_FIELD, "exactly one of 'paymentMethod' ({customer, id}) and 'setupIntentId' (a confirmed Stripe SetupIntent, seti_...) is required");
  if (!hasMethod) {
    if (typeof input.setupIntentId !== 'string' || !STRIPE_SETUP_INTENT.test(input.setupIntentId)) fail(ErrorCode.INVALID_FIELD, "'setupIntentId' must be a Stripe SetupIntent id (seti_...)");
    return { trigger, target, currency, caps, card: { kind: 'setupIntent', setupIntentId: input.setupIntentId as string } };
  }
  const method = required(input, 'paymentMethod');
  if (typeof method !== 'object' || method === null || Array.isArray(method)) return fail(ErrorCode.INVALID_FIELD, "'paymentMethod' must be {customer, id}, a Stripe customer and the payment method saved to it");
  const m = method as Record<string, unknown>;
  if (typeof m.customer !== 'string' || !STRIPE_CUSTOMER.test(m.customer)) fail(ErrorCode.INVALID_FIELD, "'paymentMethod.customer' must be a Stripe customer id (cus_...)");
  if (typeof m.id !== 'string' || !STRIPE_PAYMENT_METHOD.test(m.id)) fail(ErrorCode.INVALID_FIELD, "'paymentMethod.id' must be a Stripe payment method id (pm_...)");
  return { trigger, target, currency, caps, card: { kind: 'ids', customer: m.customer as string, paymentMethod: m.id as string } };
}

/** Why a payment method may not be saved for auto top-up: 400 (a SetupIntent not usable yet), 403 (not the organization's) or 503 (Stripe could not say). */
export interface PaymentMethodRefusal {
  readonly status: 400 | 403 | 503;
  readonly reply: { ok: false; error: ErrorBody };
}

/**
 * Asks Stripe whose card it is, before anything is saved: the payment method must be attached
 * to the customer named, and the customer must have been created for the caller's organization
 * (`metadata.orgId`, the gateway's convention). The ids alone prove nothing: anyone who learned
 * another customer's `cus_`/`pm_` could otherwise have that card charged for their own balance.
 * One Stripe does not know is refused as not the caller's (the answer does not tell whether it
 * exists). Stripe unreachable, or offline (PAYMENT_PROVIDERS=offline: no one to ask), is 503.
 */
export async function checkPaymentMethodOwner(
  stripe: Pick<StripeClient, 'retrievePaymentMethod' | 'retrieveCustomer'>,
  orgId: string,
  request: { readonly customer: string; readonly paymentMethod: string },
): Promise<PaymentMethodRefusal | null> {
  const notYours = (why: string): PaymentMethodRefusal => ({
    status: 403,
    reply: errorReply(ErrorCode.PAYMENT_METHOD_NOT_YOURS, `payment method '${request.paymentMethod}' of customer '${request.customer}' cannot be used by this organization: ${why}`),
  });
  try {
    const [method, customer] = await Promise.all([stripe.retrievePaymentMethod(request.paymentMethod), stripe.retrieveCustomer(request.customer)]);
    if (method.customer !== request.customer) return notYours('the payment method is not attached to that customer');
    if (customer.deleted || customer.orgId !== orgId) return notYours("the customer was not created for this organization (its metadata.orgId)");
    return null;
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    if (error.kind === 'invalid' && error.details.status === 404) return notYours('Stripe knows no such payment method or customer');
    return { status: 503, reply: errorReply(ErrorCode.UNAVAILABLE, `Stripe could not be asked whose payment method this is (${error.message}); nothing was saved, try again`) };
  }
}
