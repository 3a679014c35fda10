/** Bodies of `billing.admin.*` commands that create voucher codes and subscribe or cancel plans. */
import { PlanTerms, VoucherCodeTerms } from '@billing/domain';
import { ErrorCode, InputError } from './error-codes';
import { amount, currency, optionalText, parseOrgId, readJson, required, SERVICE, text, timestamp, VOUCHER_CODE } from './request-fields';

/** Most redemptions one code may allow, and longest validity after redemption, in days. */
export const MAX_REDEMPTIONS_PER_CODE = 10_000_000;
export const MAX_VOUCHER_DAYS = 3660;

/** `billing.admin.vouchers.create`: exactly one of expiresAt and expiresAfterDays. */
export function parseVoucherCode(body: Uint8Array): VoucherCodeTerms {
  const input = readJson(body, false);
  const cur = currency(input);
  const expiresAt = timestamp(input, 'expiresAt');
  const days = input.expiresAfterDays;
  if ((expiresAt === null) === (days === undefined || days === null)) {
    throw new InputError(ErrorCode.INVALID_FIELD, "give exactly one of 'expiresAt' and 'expiresAfterDays': vouchers always expire");
  }
  if (days !== undefined && days !== null && (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_VOUCHER_DAYS)) {
    throw new InputError(ErrorCode.INVALID_FIELD, `'expiresAfterDays' must be an integer from 1 to ${MAX_VOUCHER_DAYS}`);
  }
  const max = required(input, 'maxRedemptions');
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > MAX_REDEMPTIONS_PER_CODE) {
    throw new InputError(ErrorCode.INVALID_FIELD, `'maxRedemptions' must be an integer from 1 to ${MAX_REDEMPTIONS_PER_CODE}`);
  }
  return {
    code: text(input, 'code', VOUCHER_CODE, '3-64 letters, digits, _ or -'),
    amount: amount(input, 'amount'),
    currency: cur,
    service: optionalText(input, 'service', SERVICE, 'a service name such as ai-notebook'),
    expiresAt,
    expiresAfterDays: (days as number | null | undefined) ?? null,
    maxRedemptions: max,
    campaignEndsAt: timestamp(input, 'campaignEndsAt'),
  };
}

export interface PlanSubscriptionSpec extends PlanTerms {
  readonly startsAt: Date | null;
}

/** Longest plan period, in days. */
export const MAX_PLAN_PERIOD_DAYS = 366;

/** `billing.admin.plans.subscribe`: period as `periodDays`, or `periodSeconds` (short periods, for trials and tests). */
export function parsePlanSubscription(body: Uint8Array): PlanSubscriptionSpec {
  const input = readJson(body, false);
  const days = input.periodDays;
  const seconds = input.periodSeconds;
  if ((days === undefined || days === null) === (seconds === undefined || seconds === null)) {
    throw new InputError(ErrorCode.INVALID_FIELD, "give exactly one of 'periodDays' and 'periodSeconds'");
  }
  const whole = days !== undefined && days !== null ? days : seconds;
  if (typeof whole !== 'number' || !Number.isInteger(whole)) {
    throw new InputError(ErrorCode.INVALID_FIELD, `the period must be a whole number of days (1-${MAX_PLAN_PERIOD_DAYS}) or seconds (at least 1)`);
  }
  const periodMs = days !== undefined && days !== null ? whole * 86_400_000 : whole * 1000;
  if (periodMs < 1000 || periodMs > MAX_PLAN_PERIOD_DAYS * 86_400_000) {
    throw new InputError(ErrorCode.INVALID_FIELD, `the period must be a whole number of days (1-${MAX_PLAN_PERIOD_DAYS}) or seconds (at least 1)`);
  }
  const cap = input.rolloverCap === undefined || input.rolloverCap === null ? null : amount(input, 'rolloverCap');
  return {
    orgId: parseOrgId(orgIdOf(input)),
    plan: text(input, 'plan', /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/, 'a plan name of 1-64 characters'),
    amount: amount(input, 'amount'),
    currency: currency(input),
    periodMs,
    rolloverCap: cap,
    startsAt: timestamp(input, 'startsAt'),
  };
}

function orgIdOf(input: Record<string, unknown>): string {
  const org = required(input, 'orgId');
  if (typeof org !== 'string') throw new InputError(ErrorCode.INVALID_ORG_ID, "'orgId' must be a string");
  return org;
}

export function parsePlanCancel(body: Uint8Array): { subscriptionId: string } {
  const input = readJson(body, false);
  return { subscriptionId: text(input, 'subscriptionId', /^[0-9a-f-]{36}$/, 'a subscription id') };
}
