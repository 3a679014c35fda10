import { createHmac, timingSafeEqual } from 'crypto';

/**
 * Webhook signatures, Stripe's scheme: `X-Billing-Signature: t=<unix seconds>,v1=<hex>` where
 * the hex is HMAC-SHA256, keyed with the endpoint's secret, of `<t>.<raw body>`. Signing the
 * timestamp with the body lets a receiver refuse a captured request replayed later; a receiver
 * accepts any `v1` that matches, so more than one may be sent while a secret is rotated.
 */
export const SIGNATURE_HEADER = 'X-Billing-Signature';
export const EVENT_ID_HEADER = 'X-Billing-Event-Id';
export const EVENT_TYPE_HEADER = 'X-Billing-Event-Type';
export const SIGNATURE_SCHEME = 'v1';
/** How far a signature's timestamp may be from the receiver's clock, either way, by default. */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 5 * 60;
/** Longer headers are refused unread: a receiver should not hash an attacker's megabytes. */
export const MAX_SIGNATURE_HEADER_CHARS = 4096;

const HEX_SHA256 = /^[0-9a-f]{64}$/;
const UNIX_SECONDS = /^[0-9]{1,12}$/;

function hmacHex(secret: string, timestampSeconds: number, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.`).update(body).digest('hex');
}

/** The header value for a body sent at `timestampSeconds`. */
export function signWebhook(body: string | Uint8Array, secret: string, timestampSeconds: number): string {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) throw new Error(`timestampSeconds must be a non-negative integer, got ${timestampSeconds}`);
  return `t=${timestampSeconds},${SIGNATURE_SCHEME}=${hmacHex(secret, timestampSeconds, body)}`;
}

export interface ParsedSignature {
  readonly timestampSeconds: number;
  readonly signatures: readonly string[];
}

/** Reads `t=...,v1=...[,v1=...]`; unknown schemes are ignored so that new ones can be added. Null if unreadable. */
export function parseSignatureHeader(header: string): ParsedSignature | null {
  if (header.length > MAX_SIGNATURE_HEADER_CHARS) return null;
  let timestampSeconds: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return null;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestampSeconds !== null || !UNIX_SECONDS.test(value)) return null;
      timestampSeconds = Number(value);
    } else if (key === SIGNATURE_SCHEME && HEX_SHA256.test(value)) {
      signatures.push(value);
    }
  }
  return timestampSeconds === null || signatures.length === 0 ? null : { timestampSeconds, signatures };
}

/**
 * True if `header` signs exactly `body` (the raw bytes received, before any JSON parsing) with
 * `secret`, at a time within `toleranceSeconds` of `nowSeconds`. Compares in constant time.
 */
export function verifyWebhookSignature(
  body: string | Uint8Array,
  header: string | null | undefined,
  secret: string,
  toleranceSeconds: number = DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): boolean {
  if (!header) return false;
  const parsed = parseSignatureHeader(header);
  if (!parsed) return false;
  if (Math.abs(nowSeconds - parsed.timestampSeconds) > toleranceSeconds) return false;
  const expected = Buffer.from(hmacHex(secret, parsed.timestampSeconds, body), 'hex');
  return parsed.signatures.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected));
}
