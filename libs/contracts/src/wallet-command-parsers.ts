/** The fields of each wallet command, read from its JSON body (the dispatch is `parseWalletRequest`). */
import { DebitCommand, GrantCommand, minorUnits, ReverseCommand, TopupCommand } from '@billing/domain';
import { ErrorCode, InputError } from './error-codes';
import { amount, currency, KEY_RULE, optionalText, required, SERVICE, text, timestamp, TOKEN } from './request-fields';
import type { ParsedCommand } from './wallet-commands';

/** Largest ledger page. */
export const MAX_LEDGER_PAGE = 500;
export const DEFAULT_LEDGER_PAGE = 100;

/** Low-balance thresholds one organization may set. */
export const MAX_LOW_BALANCE_THRESHOLDS = 10;
/** Longest range one usage query may cover. */
export const MAX_USAGE_RANGE_DAYS = 366;

export function parseTopup(input: Record<string, unknown>): TopupCommand {
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

export function parseGrant(input: Record<string, unknown>): GrantCommand {
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

export function parseDebit(input: Record<string, unknown>): DebitCommand {
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

export function parseReverse(input: Record<string, unknown>): ReverseCommand {
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

export function parseLedger(input: Record<string, unknown>): ParsedCommand {
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

export function parseAlerts(input: Record<string, unknown>): ParsedCommand {
  const list = required(input, 'lowBalance');
  if (!Array.isArray(list) || list.length > MAX_LOW_BALANCE_THRESHOLDS) {
    throw new InputError(ErrorCode.INVALID_FIELD, `'lowBalance' must be an array of at most ${MAX_LOW_BALANCE_THRESHOLDS} decimal strings`);
  }
  const values = list.map((v, i) => amount({ [`lowBalance[${i}]`]: v }, `lowBalance[${i}]`));
  const unique = [...new Map(values.map((v) => [v.toFixed(), v])).values()].sort((a, b) => a.comparedTo(b));
  return { name: 'alerts.set', lowBalance: unique };
}

export function parseUsage(input: Record<string, unknown>): ParsedCommand {
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
