/** A request on a wallet subject: which command it is, its fields, and the fingerprint that makes a retry idempotent. */
import { createHash } from 'crypto';
import { Decimal, WalletCommand } from '@billing/domain';
import { ErrorCode, InputError } from './error-codes';
import { KEY_RULE, readJson, SERVICE, SKU, text, TOKEN, VOUCHER_CODE } from './request-fields';
import { WalletCommandName, WALLET_COMMANDS } from './subjects';
import { BudgetSet, parseBudgetSet } from './budget-requests';
import { LadderSet, parseLadderSet } from './ladder-requests';
import { parseAlerts, parseDebit, parseGrant, parseLedger, parseReverse, parseTopup, parseUsage } from './wallet-command-parsers';

export type ParsedCommand =
  | { readonly name: 'topup' | 'grant' | 'debit' | 'reverse'; readonly command: WalletCommand; readonly requestHash: string }
  | { readonly name: 'balance' }
  | { readonly name: 'ledger'; readonly cursor: number; readonly limit: number }
  | { readonly name: 'authorize'; readonly service: string; readonly sku: string; readonly workspaceId: string }
  | { readonly name: 'alerts.set'; readonly lowBalance: Decimal[] }
  | { readonly name: 'usage'; readonly workspaceId: string | null; readonly from: Date; readonly to: Date }
  | { readonly name: 'resources' }
  | { readonly name: 'redeem'; readonly idempotencyKey: string; readonly code: string }
  | BudgetSet
  | { readonly name: 'budgets.get' }
  | LadderSet
  | { readonly name: 'ladder.get' };

/** Idempotency keys the engine derives for its own entries; a client may not use them. */
export const RESERVED_KEY_PREFIXES = ['expire:', 'meter:', 'voucher:', 'plan:', 'topup:', 'reverse:'] as const;
/**
 * Credits and reversals of payments (the gateway's, keyed by the top-up: `topup:<id>`, then
 * `reverse:<id>:<n>` and `topup:<id>:<n>`) come on subjects of their own, `payment.topup` and
 * `payment.reverse`, which NATS permissions can keep to the gateway: no client can take a paid
 * top-up's key first.
 */
const PAYMENT_KEY_PREFIX = { 'payment.topup': 'topup:', 'payment.reverse': 'reverse:' } as const;

/** Reads a request body: size, JSON, then the command's own fields. Throws InputError. */
export function parseWalletRequest(command: string, body: Uint8Array): ParsedCommand {
  if (!(WALLET_COMMANDS as readonly string[]).includes(command)) {
    throw new InputError(ErrorCode.UNKNOWN_COMMAND, `unknown wallet command '${command}'; known: ${WALLET_COMMANDS.join(', ')}`);
  }
  const input = readJson(body, command === 'balance' || command === 'ledger' || command === 'resources' || command === 'budgets.get' || command === 'ladder.get');
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
    case 'budgets.set':
      return parseBudgetSet(input);
    case 'budgets.get':
      return { name: 'budgets.get' };
    case 'ladder.set':
      return parseLadderSet(input);
    case 'ladder.get':
      return { name: 'ladder.get' };
    case 'redeem':
      return { name: 'redeem', idempotencyKey: text(input, 'idempotencyKey', TOKEN, KEY_RULE), code: text(input, 'code', VOUCHER_CODE, '3-64 letters, digits, _ or -') };
  }
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
