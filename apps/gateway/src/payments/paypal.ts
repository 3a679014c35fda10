import { verify, X509Certificate } from 'crypto';
import { crc32 } from 'zlib';

/**
 * PayPal's webhook signature, verified the way PayPal's SDKs do it offline: PayPal signs
 * `<transmission id>|<transmission time>|<webhook id>|<CRC32 of the raw body, unsigned decimal>`
 * with SHA256withRSA, and names the certificate holding the key in PAYPAL-CERT-URL.
 */
export const PAYPAL_AUTH_ALGO = 'SHA256withRSA';
/** How far the transmission time may be from our clock, either way: a captured request cannot be replayed later. */
export const PAYPAL_TRANSMISSION_TOLERANCE_SECONDS = 300;
/**
 * PayPal's REST API hosts, the only ones certificates are fetched from (https, port 443), those
 * of the deployment's PayPal environment (PAYPAL_ENVIRONMENT) only: any other host under
 * paypal.com serves content that is not PayPal's API.
 */
export const PAYPAL_CERT_HOSTS = {
  live: ['api.paypal.com', 'api-m.paypal.com'],
  sandbox: ['api.sandbox.paypal.com', 'api-m.sandbox.paypal.com'],
} as const;
export type PaypalEnvironment = keyof typeof PAYPAL_CERT_HOSTS;
/** The path PayPal names its webhook certificates by: `/v1/notifications/certs/CERT-...`; no query. */
export const PAYPAL_CERT_PATH = /^\/v1\/notifications\/certs\/[A-Za-z0-9-]{1,128}$/;
export const PAYPAL_CERT_FETCH_TIMEOUT_MS = 5_000;
/** A certificate (chain) is a few kilobytes; a response past this is cut off as it arrives, never read whole. */
export const MAX_PAYPAL_CERT_BYTES = 64 * 1024;
/** Certificate fetches under way at once: forged webhooks naming new certificates cannot make the gateway fetch without end. */
export const MAX_CONCURRENT_PAYPAL_CERT_FETCHES = 4;
/** Certificates kept in memory; PayPal rotates them rarely, so a handful suffices. */
export const MAX_CACHED_PAYPAL_CERTS = 16;
/** Longer headers are refused unread. */
const MAX_HEADER_CHARS = 2048;

/** Gives the PEM certificate at a PAYPAL-CERT-URL, or throws. Tests and pinned deployments bring their own. */
export type PaypalCertificateSource = (certUrl: string) => Promise<string>;

/**
 * The certificate URL if it is exactly one of PayPal's: https, one of the environment's API hosts,
 * the default port, no user or password, the certificate path, no query or fragment. Throws otherwise.
 */
export function paypalCertificateUrl(certUrl: string, environment: PaypalEnvironment): URL {
  let url: URL;
  try {
    url = new URL(certUrl);
  } catch {
    throw new Error('the certificate URL is not a URL');
  }
  const hosts: readonly string[] = PAYPAL_CERT_HOSTS[environment];
  const exact = url.protocol === 'https:' && hosts.includes(url.hostname) && url.port === '' && url.username === '' && url.password === '' && PAYPAL_CERT_PATH.test(url.pathname) && url.search === '' && url.hash === '';
  if (!exact) throw new Error(`certificate URL ${url.origin}${url.pathname.slice(0, 100)} is not PayPal's (${environment})`);
  return url;
}

/** Reads a response's body up to `maxBytes`, and aborts the transfer past it: an endless body costs at most that much. */
async function readCapped(response: Response, maxBytes: number, abort: () => void): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    abort();
    throw new Error(`certificate response of ${declared} bytes is over ${maxBytes}`);
  }
  if (!response.body) throw new Error('certificate response has no body');
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    total += value.byteLength;
    if (total > maxBytes) {
      abort();
      await reader.cancel().catch(() => undefined);
      throw new Error(`certificate response cut off past ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
}

/**
 * Fetches from PayPal's exact certificate URLs only (anyone can sign with a certificate of their
 * own), no redirects, at most MAX_PAYPAL_CERT_BYTES, and caches.
 */
export function paypalCertificateFetcher(environment: PaypalEnvironment, fetchImpl: typeof fetch = fetch): PaypalCertificateSource {
  const cache = new Map<string, string>();
  let inFlight = 0;
  return async (certUrl) => {
    const url = paypalCertificateUrl(certUrl, environment);
    const cached = cache.get(url.href);
    if (cached) return cached;
    if (inFlight >= MAX_CONCURRENT_PAYPAL_CERT_FETCHES) throw new Error('too many certificate fetches under way');
    inFlight++;
    const controller = new AbortController();
    try {
      const response = await fetchImpl(url, { signal: AbortSignal.any([controller.signal, AbortSignal.timeout(PAYPAL_CERT_FETCH_TIMEOUT_MS)]), redirect: 'error' });
      if (!response.ok) {
        controller.abort();
        throw new Error(`certificate fetch answered ${response.status}`);
      }
      const pem = (await readCapped(response, MAX_PAYPAL_CERT_BYTES, () => controller.abort())).toString('utf8');
      if (cache.size >= MAX_CACHED_PAYPAL_CERTS) cache.delete(cache.keys().next().value!);
      cache.set(url.href, pem);
      return pem;
    } finally {
      inFlight--;
    }
  };
}

/** The same certificate whatever the URL: a deployment that pins PayPal's certificate, or tests. */
export function pinnedPaypalCertificate(pem: string): PaypalCertificateSource {
  new X509Certificate(pem); // refuse an unreadable one at start, not at the first webhook
  return async () => pem;
}

export interface PaypalTransmission {
  readonly transmissionId: string;
  readonly transmissionTime: string;
  readonly transmissionSig: string;
  readonly certUrl: string;
  readonly authAlgo: string;
}

/** The PAYPAL-* headers (lower-cased names, as Node gives them); null if one is missing. */
export function readPaypalHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): PaypalTransmission | null {
  const h = (name: string) => {
    const v = headers[name];
    return typeof v === 'string' && v.length > 0 && v.length <= MAX_HEADER_CHARS ? v : null;
  };
  const transmissionId = h('paypal-transmission-id');
  const transmissionTime = h('paypal-transmission-time');
  const transmissionSig = h('paypal-transmission-sig');
  const certUrl = h('paypal-cert-url');
  const authAlgo = h('paypal-auth-algo');
  if (!transmissionId || !transmissionTime || !transmissionSig || !certUrl || !authAlgo) return null;
  return { transmissionId, transmissionTime, transmissionSig, certUrl, authAlgo };
}

export function paypalSignedMessage(t: Pick<PaypalTransmission, 'transmissionId' | 'transmissionTime'>, webhookId: string, rawBody: Buffer): string {
  // zlib's crc32 is the IEEE CRC-32 PayPal uses, returned unsigned.
  return `${t.transmissionId}|${t.transmissionTime}|${webhookId}|${crc32(rawBody)}`;
}

/**
 * Why the transmission is not PayPal's, or null if it is: algorithm, time within the tolerance,
 * certificate from the source and valid now, RSA-SHA256 signature over the signed message.
 */
export async function verifyPaypalTransmission(
  t: PaypalTransmission,
  rawBody: Buffer,
  webhookId: string,
  certificates: PaypalCertificateSource,
  now: Date = new Date(),
  toleranceSeconds = PAYPAL_TRANSMISSION_TOLERANCE_SECONDS,
): Promise<string | null> {
  if (t.authAlgo !== PAYPAL_AUTH_ALGO) return `unsupported auth algorithm ${t.authAlgo}`;
  const sentAt = Date.parse(t.transmissionTime);
  if (Number.isNaN(sentAt)) return 'unreadable transmission time';
  if (Math.abs(now.getTime() - sentAt) > toleranceSeconds * 1000) return 'transmission time outside the tolerance';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await certificates(t.certUrl));
  } catch (error) {
    return `no certificate: ${(error as Error).message}`;
  }
  if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) return 'certificate not valid now';
  const signature = Buffer.from(t.transmissionSig, 'base64');
  const ok = verify('sha256', Buffer.from(paypalSignedMessage(t, webhookId, rawBody), 'utf8'), cert.publicKey, signature);
  return ok ? null : 'signature does not verify';
}
