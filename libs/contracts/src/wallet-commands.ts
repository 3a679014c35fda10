import { createHash } from 'crypto';
import {
  Currency,
  CURRENCIES,
  Decimal,
  DebitCommand,
  GrantCommand,
  isCurrency,
  LEDGER_SCALE,
  MAX_COMMAND_AMOUNT,
  PlanTerms,
  minorUnits,
  ReverseCommand,
  TopupCommand,
  VoucherCodeTerms,
  WalletCommand,
} from '@billing/domain';
import { ErrorCode, InputError } from './error-codes';
import { WalletCommandName, WALLET_COMMANDS } from './subjects';

/** Largest request body accepted on a wallet subject. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;
/** Largest ledger page. */
export const MAX_LEDGER_PAGE = 500;
export const DEFAULT_LEDGER_PAGE = 100;

export const ORG_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const TOKEN = /^[A-Za-z0-9_.:\-]{1,128}$/;
export const SERVICE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const AMOUNT = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;
export const SKU = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/** Low-balance thresholds one organization may set. */
export const MAX_LOW_BALANCE_THRESHOLDS = 10;
/** Longest range one usage query may cover. */
export const MAX_USAGE_RANGE_DAYS = 366;

export type ParsedCommand =
  | { readonly name: 'topup' | 'grant' | 'debit' | 'reverse'; readonly command: WalletCommand; readonly requestHash: string }
  | { readonly name: 'balance' }
  | { readonly name: 'ledger'; readonly cursor: number; readonly limit: number }
  | { readonly name: 'authorize'; readonly service: string; readonly sku: string; readonly workspaceId: string }
  | { readonly name: 'alerts.set'; readonly lowBalance: Decimal[] }
  | { readonly name: 'usage'; readonly workspaceId: string | null; readonly from: Date; readonly to: Date }
  | { readonly name: 'resources' }
  | { readonly name: 'redeem'; readonly idempotencyKey: string; readonly code: string };

/** Idempotency keys the engine derives for its own entries; a client may not use them. */
export const RESERVED_KEY_PREFIXES = ['expire:', 'meter:', 'voucher:', 'plan:', 'topup:', 'reverse:'] as const;
/**
 * Credits and reversals of payments (the gateway's, keyed by the top-up: `topup:<id>`, then
 * `reverse:<id>:<n>` and `topup:<id>:<n>`) come on subjects of their own, `payment.topup` and
 * `payment.reverse`, which NATS permissions can keep to the gateway: no client can take a paid
 * top-up's key first.
 */
const PAYMENT_KEY_PREFIX = { 'payment.topup': 'topup:', 'payment.reverse': 'reverse:' } as const;
const VOUCHER_CODE = /^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/;


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

export function parseOrgId(orgId: string): string {
  if (!ORG_ID.test(orgId)) throw new InputError(ErrorCode.INVALID_ORG_ID, 'orgId must be 1-64 characters of letters, digits, _ or -');
  return orgId;
}

/** Reads a request body: size, JSON, then the command's own fields. Throws InputError. */
export function parseWalletCommand(command: string, body: Uint8Array): ParsedCommand {
  if (!(WALLET_COMMANDS as readonly string[]).includes(command)) {
    throw new InputError(ErrorCode.UNKNOWN_COMMAND, `unknown wallet command '${command}'; known: ${WALLET_COMMANDS.join(', ')}`);
  }
  const input = readJson(body, command === 'balance' || command === 'ledger' || command === 'resources');
  switch (command as WalletCommandName) {
    case 'topup':
      return withHash('topup', parseTopup(input));
    case 'grant':
      return withHash('grant', parseGrant(input));
    case 'debit':
      return withHash('debit', parseDebit(input));
    case 'reverse':
      return withHash('reverse', parseReverse(input));
    case 'payment.topup':
      return payment('topup', parseTopup(input), PAYMENT_KEY_PREFIX['payment.topup']);
    case 'payment.reverse':
      return payment('reverse', parseReverse(input), PAYMENT_KEY_PREFIX['payment.reverse']);
    case 'balance':
      return { name: 'balance' };
    case 'ledger':
      return parseLedger(input);
    case 'authorize':
      return {
        name: 'authorize',
        service: text(input, 'service', SERVICE, 'a service name such as gpu-container'),
        sku: text(input, 'sku', SKU, 'a SKU such as h100-1x'),
        workspaceId: text(input, 'workspaceId', TOKEN, KEY_RULE),
      };
    case 'alerts.set':
      return parseAlerts(input);
    case 'usage':
      return parseUsage(input);
    case 'resources':
      return { name: 'resources' };
    case 'redeem':
      return { name: 'redeem', idempotencyKey: text(input, 'idempotencyKey', TOKEN, KEY_RULE), code: text(input, 'code', VOUCHER_CODE, '3-64 letters, digits, _ or -') };
  }
}

export function readJson(body: Uint8Array, mayBeEmpty: boolean): Record<string, unknown> {
  if (body.length > MAX_PAYLOAD_BYTES) {
    throw new InputError(ErrorCode.PAYLOAD_TOO_LARGE, `payload is ${body.length} bytes; the limit is ${MAX_PAYLOAD_BYTES}`);
  }
  if (body.length === 0 && mayBeEmpty) return {};
  const text = Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InputError(ErrorCode.MALFORMED_JSON, 'the payload is not valid JSON');
  }
  // PostgreSQL text cannot hold U+0000: refused here, for every field, rather than failing at commit.
  if (/\\u0000/i.test(text) && JSON.stringify(value).includes('\\u0000')) {
    throw new InputError(ErrorCode.INVALID_FIELD, 'text fields may not contain the NUL character (U+0000)');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(ErrorCode.MALFORMED_JSON, 'the payload must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function payment(name: 'topup' | 'reverse', command: WalletCommand, prefix: string): ParsedCommand {
  if (!command.idempotencyKey.startsWith(prefix)) throw new InputError(ErrorCode.INVALID_FIELD, `a payment's idempotency key starts with '${prefix}'`);
  return { name, command, requestHash: fingerprint(command) };
}

function withHash(name: 'topup' | 'grant' | 'debit' | 'reverse', command: WalletCommand): ParsedCommand {
  const reserved = RESERVED_KEY_PREFIXES.find((p) => command.idempotencyKey.startsWith(p));
  if (reserved) throw new InputError(ErrorCode.INVALID_FIELD, `idempotency keys starting with '${reserved}' are the engine's own`);
  return { name, command, requestHash: fingerprint(command) };
}

/** A fingerprint of the command's meaning: the same request in other spelling ("5" vs "5.00") hashes the same. */
export function fingerprint(command: WalletCommand): string {
  const fields = Object.entries(command).map(([k, v]) => `${k}=${v instanceof Date ? v.toISOString() : Decimal.isDecimal(v) ? (v as Decimal).toFixed() : String(v)}`);
  return createHash('sha256').update(fields.join('\u0000')).digest('base64url').slice(0, 32);
}

export function required(input: Record<string, unknown>, field: string): unknown {
  const v = input[field];
  if (v === undefined || v === null) throw new InputError(ErrorCode.MISSING_FIELD, `'${field}' is required`);
  return v;
}

export function text(input: Record<string, unknown>, field: string, pattern: RegExp, rule: string): string {
  const v = required(input, field);
  if (typeof v !== 'string' || !pattern.test(v)) throw new InputError(ErrorCode.INVALID_FIELD, `'${field}' must be ${rule}`);
  return v;
}

export function optionalText(input: Record<string, unknown>, field: string, pattern: RegExp, rule: string): string | null {
  return input[field] === undefined || input[field] === null ? null : text(input, field, pattern, rule);
}

export function currency(input: Record<string, unknown>, field = 'currency'): Currency {
  const v = required(input, field);
  if (!isCurrency(v)) throw new InputError(ErrorCode.UNKNOWN_CURRENCY, `'${field}' must be one of ${CURRENCIES.join(', ')}`);
  return v;
}

/** A positive decimal string with at most `maxDecimals` decimals, never a JSON number. */
export function amount(input: Record<string, unknown>, field: string, maxDecimals = LEDGER_SCALE): Decimal {
  const v = required(input, field);
  if (typeof v !== 'string') {
    throw new InputError(ErrorCode.INVALID_AMOUNT, `'${field}' must be a decimal string such as "12.50", not a JSON ${typeof v}`);
  }
  if (!AMOUNT.test(v)) throw new InputError(ErrorCode.INVALID_AMOUNT, `'${field}' must be a positive decimal string such as "12.50"`);
  const value = new Decimal(v);
  if (value.isZero()) throw new InputError(ErrorCode.INVALID_AMOUNT, `'${field}' must be greater than zero`);
  if (value.decimalPlaces() > maxDecimals) {
    throw new InputError(ErrorCode.TOO_MANY_DECIMALS, `'${field}' has ${value.decimalPlaces()} decimals; at most ${maxDecimals} are kept`);
  }
  if (value.greaterThan(MAX_COMMAND_AMOUNT)) {
    throw new InputError(ErrorCode.AMOUNT_TOO_LARGE, `'${field}' exceeds the limit of ${MAX_COMMAND_AMOUNT.toFixed()} per command`);
  }
  return value;
}

export function timestamp(input: Record<string, unknown>, field: string): Date | null {
  const v = input[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || !ISO_UTC.test(v) || Number.isNaN(Date.parse(v))) {
    throw new InputError(ErrorCode.INVALID_FIELD, `'${field}' must be an ISO-8601 UTC time such as 2026-12-31T00:00:00Z`);
  }
  return new Date(v);
}

export const KEY_RULE = '1-128 characters of letters, digits, _ . : or -';

function parseTopup(input: Record<string, unknown>): TopupCommand {
  const cur = currency(input);
  return {
    type: 'topup',
    idempotencyKey: text(input, 'idempotencyKey', TOKEN, KEY_RULE),
    // A payment is made in the currency's minor unit: no fractions of a cent, of a dong or a yen.
    amount: amount(input, 'amount', minorUnits(cur)),
    currency: cur,
    provider: text(input, 'provider', /^[a-z][a-z0-9_-]{0,31}$/, 'a provider name such as stripe, vnpay or paypal'),
    reference: text(input, 'reference', /^[\x21-\x7e]{1,256}$/, '1-256 printable characters without spaces'),
  };
}

function parseGrant(input: Record<string, unknown>): GrantCommand {
  const kind = required(input, 'kind');
  if (kind !== 'voucher' && kind !== 'plan') throw new InputError(ErrorCode.INVALID_FIELD, "'kind' must be 'voucher' or 'plan'");
  const expiresAt = timestamp(input, 'expiresAt');
  if (kind === 'voucher' && expiresAt === null) {
    throw new InputError(ErrorCode.MISSING_FIELD, "'expiresAt' is required for a voucher: vouchers always expire");
  }
  const service = optionalText(input, 'service', SERVICE, 'a service name such as ai-notebook');
  if (kind === 'plan' && service !== null) throw new InputError(ErrorCode.INVALID_FIELD, 'plan credits are usable for any service; omit service');
  return {
    type: 'grant',
    idempotencyKey: text(input, 'idempotencyKey', TOKEN, KEY_RULE),
    kind,
    amount: amount(input, 'amount'),
    currency: currency(input),
    service,
    expiresAt,
    reference: optionalText(input, 'reference', /^[\x21-\x7e]{1,256}$/, '1-256 printable characters without spaces'),
  };
}

function parseDebit(input: Record<string, unknown>): DebitCommand {
  const description = input.description;
  if (description !== undefined && description !== null && (typeof description !== 'string' || description.length > 500)) {
    throw new InputError(ErrorCode.INVALID_FIELD, "'description' must be a string of at most 500 characters");
  }
  return {
    type: 'debit',
    idempotencyKey: text(input, 'idempotencyKey', TOKEN, KEY_RULE),
    amount: amount(input, 'amount'),
    service: text(input, 'service', SERVICE, 'a service name such as gpu-container'),
    workspaceId: text(input, 'workspaceId', TOKEN, KEY_RULE),
    resourceId: optionalText(input, 'resourceId', TOKEN, KEY_RULE),
    description: (description as string | undefined) ?? null,
    currency: input.currency === undefined || input.currency === null ? null : currency(input),
  };
}

function parseReverse(input: Record<string, unknown>): ReverseCommand {
  const cur = currency(input);
  const reason = input.reason ?? 'reversed';
  if (typeof reason !== 'string' || reason.length > 200) throw new InputError(ErrorCode.INVALID_FIELD, "'reason' must be a string of at most 200 characters");
  return {
    type: 'reverse',
    idempotencyKey: text(input, 'idempotencyKey', TOKEN, KEY_RULE),
    amount: amount(input, 'amount', minorUnits(cur)),
    currency: cur,
    reference: text(input, 'reference', /^[\x21-\x7e]{1,300}$/, 'the provider:reference of the reversed top-up'),
    reason,
  };
}

function parseLedger(input: Record<string, unknown>): ParsedCommand {
  const cursor = input.cursor ?? 0;
  const limit = input.limit ?? DEFAULT_LEDGER_PAGE;
  if (typeof cursor !== 'number' && typeof cursor !== 'string') throw new InputError(ErrorCode.INVALID_FIELD, "'cursor' must be a ledger seq");
  const c = Number(cursor);
  if (!Number.isSafeInteger(c) || c < 0) throw new InputError(ErrorCode.INVALID_FIELD, "'cursor' must be a non-negative integer (the seq of the last entry seen)");
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LEDGER_PAGE) {
    throw new InputError(ErrorCode.INVALID_FIELD, `'limit' must be an integer from 1 to ${MAX_LEDGER_PAGE}`);
  }
  return { name: 'ledger', cursor: c, limit };
}

function parseAlerts(input: Record<string, unknown>): ParsedCommand {
  const list = required(input, 'lowBalance');
  if (!Array.isArray(list) || list.length > MAX_LOW_BALANCE_THRESHOLDS) {
    throw new InputError(ErrorCode.INVALID_FIELD, `'lowBalance' must be an array of at most ${MAX_LOW_BALANCE_THRESHOLDS} decimal strings`);
  }
  const values = list.map((v, i) => amount({ [`lowBalance[${i}]`]: v }, `lowBalance[${i}]`));
  const unique = [...new Map(values.map((v) => [v.toFixed(), v])).values()].sort((a, b) => a.comparedTo(b));
  return { name: 'alerts.set', lowBalance: unique };
}

function parseUsage(input: Record<string, unknown>): ParsedCommand {
  const from = timestamp(input, 'from');
  const to = timestamp(input, 'to');
  if (!from) throw new InputError(ErrorCode.MISSING_FIELD, "'from' is required");
  if (!to) throw new InputError(ErrorCode.MISSING_FIELD, "'to' is required");
  if (to.getTime() <= from.getTime()) throw new InputError(ErrorCode.INVALID_FIELD, "'to' must be after 'from'");
  if (to.getTime() - from.getTime() > MAX_USAGE_RANGE_DAYS * 86_400_000) {
    throw new InputError(ErrorCode.INVALID_FIELD, `a usage query covers at most ${MAX_USAGE_RANGE_DAYS} days`);
  }
  const workspaceId = input.workspaceId === undefined || input.workspaceId === null ? null : text(input, 'workspaceId', TOKEN, KEY_RULE);
  return { name: 'usage', workspaceId, from, to };
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
