import { createHash } from 'crypto';
import { ErrorCode, InputError } from './error-codes';
import { OPERATOR_HEADER, REQUEST_ID_HEADER, VIA_HEADER } from './operator-headers';
import { MAX_PAYLOAD_BYTES, ORG_ID, readJson, timestamp } from './request-fields';

export { OPERATOR_HEADER, REQUEST_ID_HEADER, VIA_HEADER } from './operator-headers';

/** An operator's name: an account or e-mail address (`alice`, `alice@example.com`, `sso:1234`). */
export const OPERATOR_ID = /^[A-Za-z0-9][A-Za-z0-9_.@+:-]{0,127}$/;
/** A request id as proxies and clients make them (UUIDs, ULIDs, trace ids), printable and short. */
export const REQUEST_ID = /^[A-Za-z0-9_.:@/+=-]{1,128}$/;

/**
 * Wallet commands an operator alone may send, audited: money moved by hand, and an organization's
 * enforcement ladder (`ladder.set`). (`debit` is not: see README.)
 */
export const AUDITED_WALLET_COMMANDS = ['topup', 'grant', 'reverse', 'ladder.set'] as const;
/** `billing.admin.<command>`s that act: audited. */
export const AUDITED_ADMIN_COMMANDS = ['vouchers.create', 'plans.subscribe', 'plans.cancel'] as const;
/** `billing.admin.audit.list` reads the audit; reading changes nothing and is not recorded. */
export const ADMIN_COMMANDS = [...AUDITED_ADMIN_COMMANDS, 'audit.list'] as const;

export type AuditVia = 'http' | 'nats';

export interface OperatorIdentity {
  readonly operator: string;
  readonly requestId: string;
  readonly via: AuditVia;
}

export function isAuditedWalletCommand(command: string): boolean {
  return (AUDITED_WALLET_COMMANDS as readonly string[]).includes(command);
}

export function isAuditedAdminCommand(command: string): boolean {
  return (AUDITED_ADMIN_COMMANDS as readonly string[]).includes(command);
}

/**
 * Who asks, from the request's headers (`header(name)` gives every value of one header): the
 * operator is required (OPERATOR_REQUIRED when missing, INVALID_FIELD when malformed or given
 * twice); the request id is taken when well-formed and made with `newRequestId` otherwise.
 */
export function operatorIdentity(header: (name: string) => string[], newRequestId: () => string): OperatorIdentity {
  const operators = header(OPERATOR_HEADER);
  if (operators.length === 0 || operators.every((o) => o === '')) {
    throw new InputError(ErrorCode.OPERATOR_REQUIRED, `an operator command must name its operator in the '${OPERATOR_HEADER}' header (nats req -H '${OPERATOR_HEADER}:alice' ...)`);
  }
  if (operators.length > 1 || !OPERATOR_ID.test(operators[0])) {
    throw new InputError(ErrorCode.INVALID_FIELD, `'${OPERATOR_HEADER}' must be one name of 1-128 letters, digits, _ . @ + : or -`);
  }
  const [requestId] = header(REQUEST_ID_HEADER);
  return { operator: operators[0], requestId: requestId && REQUEST_ID.test(requestId) ? requestId : newRequestId(), via: header(VIA_HEADER)[0] === 'http' ? 'http' : 'nats' };
}

/**
 * What the audit keeps of a command's parameters: the request's JSON object as sent, but for a
 * voucher code, which anyone holding it may redeem, and is kept as a fingerprint
 * (`sha256:<first 16 hex>`: an operator who knows the code finds its row). A body that cannot be
 * read is described, not kept. Text PostgreSQL's jsonb cannot hold (U+0000, lone surrogates) is
 * replaced by U+FFFD.
 */
export function auditParams(body: Uint8Array): Record<string, unknown> {
  if (body.length > MAX_PAYLOAD_BYTES) return { unreadable: ErrorCode.PAYLOAD_TOO_LARGE, bytes: body.length };
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8'));
  } catch {
    return { unreadable: ErrorCode.MALFORMED_JSON, bytes: body.length };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { unreadable: ErrorCode.MALFORMED_JSON, bytes: body.length };
  const params = { ...(value as Record<string, unknown>) };
  if (typeof params.code === 'string') params.code = voucherCodeFingerprint(params.code);
  return JSON.parse(JSON.stringify(params).replace(/\\u(0000|d[89a-f][0-9a-f]{2})/gi, '\\ufffd'));
}

/** How the audit names a voucher code without making it redeemable: `sha256:` and 16 hex digits. */
export function voucherCodeFingerprint(code: string): string {
  return `sha256:${createHash('sha256').update(code, 'utf8').digest('hex').slice(0, 16)}`;
}

/** The organization a command's parameters name (`orgId`), if they name one properly. */
export function auditedOrgId(params: Record<string, unknown>): string | null {
  return typeof params.orgId === 'string' && ORG_ID.test(params.orgId) ? params.orgId : null;
}

export const MAX_AUDIT_PAGE = 500;
export const DEFAULT_AUDIT_PAGE = 100;
/** `outcome` filter for actions whose outcome was never recorded (in flight, or their process stopped). */
export const UNKNOWN_OUTCOME = 'unknown';

/** `billing.admin.audit.list`: newest first; `cursor` is the `seq` of the last row seen. */
export interface AuditQuery {
  readonly operator: string | null;
  readonly orgId: string | null;
  readonly command: string | null;
  /** `ok`, an error code, or `unknown` for actions without an outcome row. */
  readonly outcome: string | null;
  readonly from: Date | null;
  readonly to: Date | null;
  /** Rows older than this `seq` (the previous page's last). */
  readonly cursor: string | null;
  readonly limit: number;
}

/** `wallet.<command>` and `admin.<command>` (the engine's), `payments.refund` (the gateway's operator refunds). */
const COMMAND_NAME = /^(wallet|admin|payments)\.[a-z.]{1,40}$/;
const OUTCOME = /^(ok|unknown|[A-Z_]{1,64})$/;

export function parseAuditQuery(body: Uint8Array): AuditQuery {
  const input = readJson(body, true);
  const optional = (field: string, pattern: RegExp, rule: string): string | null => {
    const v = input[field];
    if (v === undefined || v === null || v === '') return null;
    if (typeof v !== 'string' || !pattern.test(v)) throw new InputError(ErrorCode.INVALID_FIELD, `'${field}' must be ${rule}`);
    return v;
  };
  const limit = input.limit === undefined || input.limit === null ? DEFAULT_AUDIT_PAGE : Number(input.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE) throw new InputError(ErrorCode.INVALID_FIELD, `'limit' must be an integer from 1 to ${MAX_AUDIT_PAGE}`);
  const cursor = input.cursor === undefined || input.cursor === null || input.cursor === '' ? null : String(input.cursor);
  if (cursor !== null && !/^[1-9][0-9]{0,18}$/.test(cursor)) throw new InputError(ErrorCode.INVALID_FIELD, "'cursor' must be the seq of a row (a positive integer)");
  const from = timestamp(input, 'from');
  const to = timestamp(input, 'to');
  if (from && to && to.getTime() <= from.getTime()) throw new InputError(ErrorCode.INVALID_FIELD, "'to' must be after 'from'");
  return {
    operator: optional('operator', OPERATOR_ID, 'an operator name'),
    orgId: optional('orgId', ORG_ID, 'an organization id'),
    command: optional('command', COMMAND_NAME, "a command such as 'wallet.grant', 'admin.vouchers.create' or 'payments.refund'"),
    outcome: optional('outcome', OUTCOME, `'ok', '${UNKNOWN_OUTCOME}' or an error code`),
    from,
    to,
    cursor,
    limit,
  };
}
