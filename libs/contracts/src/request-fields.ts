/** Reading a request body and its fields: size, JSON, then one checked reader per kind of field. Each throws InputError. */
import { Currency, CURRENCIES, Decimal, isCurrency, LEDGER_SCALE, MAX_COMMAND_AMOUNT } from '@billing/domain';
import { ErrorCode, InputError } from './error-codes';

/** Largest request body accepted on a wallet subject. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;

export const ORG_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const TOKEN = /^[A-Za-z0-9_.:\-]{1,128}$/;
export const SERVICE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const AMOUNT = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;
export const SKU = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
export const VOUCHER_CODE = /^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/;

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

export function parseOrgId(orgId: string): string {
  if (!ORG_ID.test(orgId)) throw new InputError(ErrorCode.INVALID_ORG_ID, 'orgId must be 1-64 characters of letters, digits, _ or -');
  return orgId;
}
