import { ErrorCode, InputError, parseOrgId } from '@billing/contracts';

/**
 * The webhook configuration commands, `<prefix>.alerts.<orgId>.webhooks.<command>`:
 * `set` replaces the organization's list, `get` reads it (without the secrets).
 */
export const WEBHOOK_COMMANDS = ['set', 'get'] as const;
export type WebhookCommandName = (typeof WEBHOOK_COMMANDS)[number];

/** Endpoints one organization may have: each event costs one request per endpoint. */
export const MAX_WEBHOOK_ENDPOINTS = 10;
export const MAX_WEBHOOK_URL_CHARS = 2048;
/** Shorter secrets are guessable; longer ones buy nothing with HMAC-SHA256 (its block is 64 bytes). */
export const MIN_WEBHOOK_SECRET_CHARS = 16;
export const MAX_WEBHOOK_SECRET_CHARS = 256;

export interface WebhookEndpointInput {
  /** Normalized (`new URL(...).href`), so one URL spelled two ways is one endpoint. */
  readonly url: string;
  readonly secret: string;
}

export function webhookCommandSubject(prefix: string, orgId: string, command: WebhookCommandName): string {
  return `${prefix}.alerts.${orgId}.webhooks.${command}`;
}

export function webhookCommandWildcard(prefix: string): string {
  return `${prefix}.alerts.*.webhooks.*`;
}

/** Organization and command of a webhook command subject; throws InputError. */
export function parseWebhookSubject(prefix: string, subject: string): { orgId: string; command: WebhookCommandName } {
  const head = `${prefix}.alerts.`;
  const parts = subject.startsWith(head) ? subject.slice(head.length).split('.') : [];
  if (parts.length !== 3 || parts[1] !== 'webhooks') throw new InputError(ErrorCode.UNKNOWN_COMMAND, `'${subject}' is not a webhook command subject`);
  const command = parts[2];
  if (!(WEBHOOK_COMMANDS as readonly string[]).includes(command)) {
    throw new InputError(ErrorCode.UNKNOWN_COMMAND, `unknown webhook command '${command}'; known: ${WEBHOOK_COMMANDS.join(', ')}`);
  }
  return { orgId: parseOrgId(parts[0]), command: command as WebhookCommandName };
}

/** Reads `{ "endpoints": [{ "url": "...", "secret": "..." }] }`; an empty list removes every endpoint. */
export function parseWebhookEndpoints(input: Record<string, unknown>): WebhookEndpointInput[] {
  const list = input.endpoints;
  if (list === undefined || list === null) throw new InputError(ErrorCode.MISSING_FIELD, "'endpoints' is required");
  if (!Array.isArray(list)) throw new InputError(ErrorCode.INVALID_FIELD, "'endpoints' must be an array");
  if (list.length > MAX_WEBHOOK_ENDPOINTS) throw new InputError(ErrorCode.INVALID_FIELD, `'endpoints' may hold at most ${MAX_WEBHOOK_ENDPOINTS} entries, got ${list.length}`);
  const seen = new Set<string>();
  return list.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new InputError(ErrorCode.INVALID_FIELD, `'endpoints[${i}]' must be an object`);
    const { url, secret } = item as Record<string, unknown>;
    const normalized = parseUrl(url, `endpoints[${i}].url`);
    if (seen.has(normalized)) throw new InputError(ErrorCode.INVALID_FIELD, `'endpoints[${i}].url' repeats ${normalized}`);
    seen.add(normalized);
    if (secret === undefined || secret === null) throw new InputError(ErrorCode.MISSING_FIELD, `'endpoints[${i}].secret' is required`);
    if (typeof secret !== 'string' || secret.length < MIN_WEBHOOK_SECRET_CHARS || secret.length > MAX_WEBHOOK_SECRET_CHARS) {
      throw new InputError(ErrorCode.INVALID_FIELD, `'endpoints[${i}].secret' must be a string of ${MIN_WEBHOOK_SECRET_CHARS}-${MAX_WEBHOOK_SECRET_CHARS} characters`);
    }
    return { url: normalized, secret };
  });
}

function parseUrl(value: unknown, field: string): string {
  if (value === undefined || value === null) throw new InputError(ErrorCode.MISSING_FIELD, `'${field}' is required`);
  if (typeof value !== 'string' || value.length > MAX_WEBHOOK_URL_CHARS) throw new InputError(ErrorCode.INVALID_FIELD, `'${field}' must be a URL of at most ${MAX_WEBHOOK_URL_CHARS} characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError(ErrorCode.INVALID_FIELD, `'${field}' is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InputError(ErrorCode.INVALID_FIELD, `'${field}' must be an http or https URL`);
  if (url.href.length > MAX_WEBHOOK_URL_CHARS) throw new InputError(ErrorCode.INVALID_FIELD, `'${field}' must be a URL of at most ${MAX_WEBHOOK_URL_CHARS} characters`);
  return url.href;
}
