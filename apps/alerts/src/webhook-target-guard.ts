import { promises as dns, LookupAddress } from 'dns';
import { isIP, LookupFunction } from 'net';
import { AlertsErrorCode, WebhookTargetRefused } from './alerts-error-codes';
import { normalizeHost, WebhookAddressPolicy } from './webhook-address-policy';

/** Longest a registration waits for a host name to resolve before answering UNAVAILABLE (retry). */
export const WEBHOOK_RESOLVE_TIMEOUT_MS = 5_000;

/** Resolves a host name to every address a connection could use; rejects with `code` ENOTFOUND/ENODATA when there is none. */
export type WebhookResolver = (hostname: string) => Promise<readonly LookupAddress[]>;

/** The system resolver (getaddrinfo, as Node's own connections use), every address in the order it gives them. */
export const systemResolver: WebhookResolver = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

/** The host could not be resolved for a passing reason (timeout, resolver failure): a registration answers UNAVAILABLE. */
export class WebhookResolveFailed extends Error {}

const NOT_FOUND_CODES = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NONAME', 'EAI_NODATA']);

/** Error code on a connection refused by the guard's lookup, so the poster can tell it from a network failure. */
export const TARGET_REFUSED_CODE = 'EWEBHOOKTARGET';

export interface WebhookTargetGuardOptions {
  /** NODE_ENV=production: `https` only. */
  readonly httpsOnly: boolean;
  readonly policy: WebhookAddressPolicy;
  readonly resolve?: WebhookResolver;
  readonly resolveTimeoutMs?: number;
}

/**
 * Applies the address policy to webhook URLs: at registration (the URL's host and every address it
 * resolves to) and at every connection. At delivery the check is not a second look before the
 * request (the name could resolve elsewhere a moment later: DNS rebinding): the HTTP agents use
 * `lookup` below, which resolves, checks every address, and hands the connection only what it
 * checked. IP literals never reach a lookup, so `checkBeforeConnect` checks them.
 */
export class WebhookTargetGuard {
  private readonly resolve: WebhookResolver;
  private readonly resolveTimeoutMs: number;

  constructor(private readonly options: WebhookTargetGuardOptions) {
    this.resolve = options.resolve ?? systemResolver;
    this.resolveTimeoutMs = options.resolveTimeoutMs ?? WEBHOOK_RESOLVE_TIMEOUT_MS;
  }

  /**
   * Checks a registration: scheme, host name, and every address the host resolves to now.
   * Throws WebhookTargetRefused (the org's to fix) or WebhookResolveFailed (retry).
   */
  async checkRegistration(url: string, field: string): Promise<void> {
    const target = new URL(url);
    const host = this.checkBeforeConnect(target, field);
    if (host === null) return;
    const addresses = await this.resolveWithin(host, field);
    const viaAllowedHost = this.options.policy.isHostAllowListed(host);
    for (const a of addresses) {
      const refusal = this.options.policy.checkAddress(a.address, viaAllowedHost);
      // The address itself is not shown: the org sees the class, not our resolver's view of names.
      if (refusal) throw new WebhookTargetRefused(AlertsErrorCode.WEBHOOK_TARGET_FORBIDDEN, `'${field}': '${host}' resolves to ${refusal.reason}; webhooks go to public addresses only`);
    }
  }

  /**
   * What can be checked without DNS: the scheme, the host name, an IP literal. Returns the host
   * name still to resolve, or null for an IP literal (already checked). Throws WebhookTargetRefused.
   */
  checkBeforeConnect(target: URL, field = 'url'): string | null {
    if (this.options.httpsOnly && target.protocol !== 'https:') {
      throw new WebhookTargetRefused(AlertsErrorCode.WEBHOOK_HTTPS_REQUIRED, `'${field}' must be an https URL in production`);
    }
    const host = normalizeHost(target.hostname);
    if (isIP(host) !== 0) {
      const refusal = this.options.policy.checkAddress(host);
      if (refusal) throw new WebhookTargetRefused(AlertsErrorCode.WEBHOOK_TARGET_FORBIDDEN, `'${field}': ${host} is ${refusal.reason}; webhooks go to public addresses only`);
      return null;
    }
    const refusal = this.options.policy.checkHostName(host);
    if (refusal) throw new WebhookTargetRefused(AlertsErrorCode.WEBHOOK_TARGET_FORBIDDEN, `'${field}': ${refusal.reason}; webhooks go to public addresses only`);
    return host;
  }

  /**
   * `lookup` for the delivery agents (net.connect's option): resolves with the guard's resolver and
   * fails the connection unless every address is allowed, so the socket can only open to an
   * address that was checked. A name with any refused address is refused whole: the connection
   * could otherwise be steered to the refused one.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const done = callback as (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
    this.allowedAddresses(hostname).then(
      (addresses) => {
        const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
        if (wanted.length === 0) return done(Object.assign(new Error(`'${hostname}' has no address of family ${options.family}`), { code: 'ENOTFOUND' }), []);
        if (options.all) done(null, wanted);
        else done(null, wanted[0].address, wanted[0].family);
      },
      (error) => done(error as NodeJS.ErrnoException, []),
    );
  };

  private async allowedAddresses(hostname: string): Promise<LookupAddress[]> {
    const host = normalizeHost(hostname);
    const nameRefusal = this.options.policy.checkHostName(host);
    if (nameRefusal) throw refusedConnection(`${nameRefusal.reason}`);
    const addresses = [...(await this.resolve(host))];
    if (addresses.length === 0) throw Object.assign(new Error(`'${host}' has no address`), { code: 'ENOTFOUND' });
    const viaAllowedHost = this.options.policy.isHostAllowListed(host);
    for (const a of addresses) {
      const refusal = this.options.policy.checkAddress(a.address, viaAllowedHost);
      // The delivery record is for operators: it names the address, which is what a rebinding attempt shows.
      if (refusal) throw refusedConnection(`'${host}' resolves to ${a.address}, ${refusal.reason}`);
    }
    return addresses;
  }

  private async resolveWithin(host: string, field: string): Promise<readonly LookupAddress[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WebhookResolveFailed(`'${field}': '${host}' did not resolve within ${this.resolveTimeoutMs} ms`)), this.resolveTimeoutMs);
    });
    try {
      const addresses = await Promise.race([this.resolve(host), timeout]);
      if (addresses.length === 0) throw Object.assign(new Error('no address'), { code: 'ENOTFOUND' });
      return addresses;
    } catch (error) {
      if (error instanceof WebhookResolveFailed) throw error;
      const code = (error as NodeJS.ErrnoException)?.code;
      if (code && NOT_FOUND_CODES.has(code)) throw new WebhookTargetRefused(AlertsErrorCode.WEBHOOK_HOST_NOT_FOUND, `'${field}': '${host}' does not resolve to any address`);
      throw new WebhookResolveFailed(`'${field}': '${host}' could not be resolved (${code ?? (error as Error)?.message ?? error})`);
    } finally {
      clearTimeout(timer);
    }
  }
}

function refusedConnection(reason: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`refused: ${reason}; webhooks go to public addresses only`), { code: TARGET_REFUSED_CODE });
}
