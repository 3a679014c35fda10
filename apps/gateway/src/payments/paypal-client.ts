import { Logger } from '@nestjs/common';
import { Currency, Decimal, toPaymentText } from '@billing/domain';
import { httpAttempt, jsonOf, kindOfStatus, ProviderCallPolicy, ProviderError, ProviderErrorKind, ProviderHttpAnswer, retryAfterMs, withRetries } from './provider-call';
import { PayPalCapture, PayPalClient, PayPalOrder, PayPalRefund } from './provider-clients';
import { PaypalEnvironment, PaypalTransmission } from './paypal';

/** PayPal's REST API hosts (the `api-m` ones PayPal's documentation names). */
export const PAYPAL_API_BASE_URLS: Readonly<Record<PaypalEnvironment, string>> = {
  live: 'https://api-m.paypal.com',
  sandbox: 'https://api-m.sandbox.paypal.com',
};
/** A token is replaced this long before PayPal says it expires (PayPal's last about 9 hours), or at half its life if that is shorter. */
export const PAYPAL_TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;
/** PayPal-Request-Id is at most 108 characters (PayPal's Orders v2 reference). */
const MAX_REQUEST_ID_CHARS = 108;
/** Issues of a 422 that are the payer's instrument or PayPal refusing the payment, not our request. */
const DECLINES: ReadonlySet<string> = new Set(['INSTRUMENT_DECLINED', 'TRANSACTION_REFUSED', 'PAYER_CANNOT_PAY', 'PAYEE_BLOCKED_TRANSACTION', 'MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED', 'REDIRECT_PAYER_FOR_ALTERNATE_FUNDING', 'COMPLIANCE_VIOLATION']);
const DECIMAL = /^(0|[1-9][0-9]{0,19})(\.[0-9]{1,8})?$/;

export interface PayPalApiSettings {
  readonly clientId: string;
  readonly clientSecret: string;
  /** `https://api-m.paypal.com` (live) or `https://api-m.sandbox.paypal.com`; tests point it at a local fake. */
  readonly apiBaseUrl: string;
  /** Where PayPal sends the buyer after approving: the gateway's `/payments/paypal/return`. */
  readonly returnUrl: string;
  /** Where PayPal sends the buyer who cancels. */
  readonly cancelUrl: string;
  /** Shown to the buyer on PayPal's page. */
  readonly brandName: string;
  readonly policy: ProviderCallPolicy;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const money = (v: unknown): { amount: Decimal | null; currency: string | null } => {
  const m = obj(v);
  const value = str(m?.value);
  return { amount: value && DECIMAL.test(value) ? new Decimal(value) : null, currency: str(m?.currency_code) };
};

function link(resource: Obj, ...rels: string[]): string | null {
  for (const rel of rels) {
    for (const l of list(resource.links)) {
      const href = str(obj(l)?.href);
      if (obj(l)?.rel === rel && href) return href;
    }
  }
  return null;
}

export function readPayPalOrder(body: Obj): PayPalOrder {
  const id = str(body.id);
  if (!id) throw new ProviderError('paypal', 'unavailable', 'an order answer without an id');
  const units = list(body.purchase_units).map(obj).filter((u): u is Obj => u !== null);
  const captures: PayPalCapture[] = [];
  for (const unit of units) {
    for (const c of list(obj(unit.payments)?.captures)) {
      const capture = obj(c);
      const captureId = str(capture?.id);
      if (!capture || !captureId) continue;
      captures.push({ id: captureId, status: str(capture.status) ?? 'UNKNOWN', ...money(capture.amount), topupId: str(capture.custom_id) ?? str(unit.custom_id) });
    }
  }
  return { id, status: str(body.status) ?? 'UNKNOWN', approveUrl: link(body, 'payer-action', 'approve'), topupId: str(units[0]?.custom_id), captures };
}

/** PayPal's error body (`name`, `message`, `details[].issue`) or OAuth's (`error`, `error_description`) as a ProviderError. */
export function paypalError(answer: ProviderHttpAnswer): ProviderError {
  let body: Obj = {};
  try {
    body = obj(JSON.parse(answer.text)) ?? {};
  } catch {
    // a proxy's page: the status says it all
  }
  const issue = str(obj(list(body.details)[0])?.issue);
  const code = issue ?? str(body.name) ?? str(body.error) ?? undefined;
  const message = [str(body.name), str(body.message) ?? str(body.error_description), issue, str(obj(list(body.details)[0])?.description), str(body.debug_id) && `debug_id ${body.debug_id}`].filter(Boolean).join(': ');
  let kind: ProviderErrorKind = kindOfStatus(answer.status);
  if (answer.status === 422 && issue && DECLINES.has(issue)) kind = 'declined';
  return new ProviderError('paypal', kind, `${answer.status} ${message || 'no error body'}`.slice(0, 500), {
    status: answer.status,
    code,
    retryAfterMs: retryAfterMs(answer.headers.get('retry-after')) ?? undefined,
  });
}

function requestId(id: string): string {
  if (id.length === 0 || id.length > MAX_REQUEST_ID_CHARS) throw new Error(`a PayPal-Request-Id is 1 to ${MAX_REQUEST_ID_CHARS} characters`);
  return id;
}

/** An order id or capture id as it may go into a path: PayPal's are letters and digits. */
function pathId(id: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) throw new ProviderError('paypal', 'invalid', `'${id.slice(0, 70)}' is not a PayPal id`);
  return id;
}

/**
 * PayPal's Orders v2 and Payments v2 REST APIs over plain HTTPS (Node's fetch), not the official
 * `@paypal/paypal-server-sdk`: that SDK's base URL is one of PayPal's two hosts, chosen by an
 * environment enum, so it cannot be pointed at a proxy or at the local fake the tests start; it
 * has no call for the webhook signature API; and it brings axios and some fifty packages for the
 * five calls used here. The wire format is PayPal's documented one: OAuth2 client credentials
 * (Basic auth, form body) for a bearer token, cached and replaced before it expires (and once
 * more if a call is answered 401); JSON bodies; PayPal-Request-Id on every POST that changes
 * something, the same in every attempt, so PayPal answers a retry with the first result.
 */
export class PayPalApiClient implements PayPalClient {
  private readonly logger = new Logger('PayPalClient');
  private token: { readonly value: string; readonly refreshAt: number } | null = null;
  private tokenRequest: Promise<string> | null = null;

  constructor(
    private readonly settings: PayPalApiSettings,
    private readonly fetchImpl: typeof fetch = fetch,
    private readonly now: () => number = Date.now,
  ) {}

  private get base(): string {
    return this.settings.apiBaseUrl.replace(/\/+$/, '');
  }

  private onRetry = (what: string) => (error: ProviderError, retry: number, waitMs: number) =>
    this.logger.warn({ msg: 'paypal call retried', call: what, retry, waitMs, kind: error.kind, status: error.details.status, error: error.message });

  /** The cached token, or one fetched now; concurrent callers share one fetch. */
  private accessToken(): Promise<string> {
    if (this.token && this.now() < this.token.refreshAt) return Promise.resolve(this.token.value);
    this.tokenRequest ??= this.fetchToken().finally(() => (this.tokenRequest = null));
    return this.tokenRequest;
  }

  private async fetchToken(): Promise<string> {
    const basic = Buffer.from(`${this.settings.clientId}:${this.settings.clientSecret}`, 'utf8').toString('base64');
    const body = await withRetries(
      this.settings.policy,
      async () => {
        const answer = await httpAttempt(
          'paypal',
          `${this.base}/v1/oauth2/token`,
          { method: 'POST', headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: 'grant_type=client_credentials' },
          this.settings.policy.timeoutMs,
          this.fetchImpl,
        );
        if (answer.status !== 200) throw paypalError(answer);
        return jsonOf('paypal', answer);
      },
      { onRetry: this.onRetry('oauth2/token') },
    );
    const value = str(body.access_token);
    const expiresInMs = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in * 1000 : 0;
    if (!value || expiresInMs === 0) throw new ProviderError('paypal', 'unavailable', 'a token answer without access_token or expires_in');
    const margin = Math.min(PAYPAL_TOKEN_REFRESH_MARGIN_MS, expiresInMs / 2);
    this.token = { value, refreshAt: this.now() + expiresInMs - margin };
    return value;
  }

  /**
   * One API call with its retries. A 401 drops the cached token and is tried once more with a
   * new one (PayPal may revoke a token before its time); a second 401 is final.
   */
  private async api(what: string, method: 'GET' | 'POST', path: string, options: { body?: string; requestId?: string; ok: readonly number[] }): Promise<Obj> {
    let refreshed = false;
    return withRetries(
      this.settings.policy,
      async () => {
        const token = await this.accessToken();
        const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json', prefer: 'return=representation' };
        if (method === 'POST') headers['content-type'] = 'application/json';
        if (options.requestId) headers['paypal-request-id'] = requestId(options.requestId);
        const answer = await httpAttempt('paypal', `${this.base}${path}`, { method, headers, body: options.body }, this.settings.policy.timeoutMs, this.fetchImpl);
        if (options.ok.includes(answer.status)) return jsonOf('paypal', answer);
        const error = paypalError(answer);
        if (answer.status === 401 && !refreshed) {
          refreshed = true;
          if (this.token?.value === token) this.token = null;
          throw new ProviderError('paypal', 'unauthorized', error.message, { ...error.details, retryable: true, retryAfterMs: 0 });
        }
        throw error;
      },
      { onRetry: this.onRetry(what) },
    );
  }

  async createOrder(input: { topupId: string; amount: Decimal; currency: Currency }): Promise<{ orderId: string; approveUrl: string | null }> {
    const value = toPaymentText(input.amount, input.currency);
    const body = JSON.stringify({
      intent: 'CAPTURE',
      purchase_units: [
        {
          reference_id: input.topupId,
          custom_id: input.topupId,
          invoice_id: input.topupId,
          description: 'Wallet top-up',
          amount: { currency_code: input.currency, value },
        },
      ],
      payment_source: {
        paypal: {
          experience_context: {
            brand_name: this.settings.brandName,
            shipping_preference: 'NO_SHIPPING',
            user_action: 'PAY_NOW',
            return_url: this.settings.returnUrl,
            cancel_url: this.settings.cancelUrl,
          },
        },
      },
    });
    // The top-up id: a retry, or a second start of the same top-up, gets the same order back.
    const order = readPayPalOrder(await this.api('orders.create', 'POST', '/v2/checkout/orders', { body, requestId: input.topupId, ok: [200, 201] }));
    return { orderId: order.id, approveUrl: order.approveUrl };
  }

  async captureOrder(orderId: string, captureRequestId: string): Promise<PayPalOrder> {
    return readPayPalOrder(await this.api('orders.capture', 'POST', `/v2/checkout/orders/${pathId(orderId)}/capture`, { body: '{}', requestId: captureRequestId, ok: [200, 201] }));
  }

  async getOrder(orderId: string): Promise<PayPalOrder> {
    return readPayPalOrder(await this.api('orders.get', 'GET', `/v2/checkout/orders/${pathId(orderId)}`, { ok: [200] }));
  }

  async refundCapture(input: { captureId: string; amount?: Decimal; currency: Currency; requestId: string; note?: string }): Promise<PayPalRefund> {
    const body: Obj = {};
    if (input.amount !== undefined) body.amount = { value: toPaymentText(input.amount, input.currency), currency_code: input.currency };
    if (input.note) body.note_to_payer = input.note.slice(0, 255);
    const refund = await this.api('captures.refund', 'POST', `/v2/payments/captures/${pathId(input.captureId)}/refund`, { body: JSON.stringify(body), requestId: input.requestId, ok: [200, 201] });
    const id = str(refund.id);
    if (!id) throw new ProviderError('paypal', 'unavailable', 'a refund answer without an id');
    const up = link(refund, 'up');
    return { id, status: str(refund.status) ?? 'UNKNOWN', ...money(refund.amount), captureId: (up && /\/captures\/([A-Za-z0-9]+)$/.exec(up)?.[1]) ?? input.captureId };
  }

  /**
   * PayPal's own check of a webhook (`POST /v1/notifications/verify-webhook-signature`). The
   * event goes in as the exact bytes received, not re-serialized: PayPal's CRC covers its own
   * bytes, and a JSON round trip may change them (number formats, escapes).
   */
  async verifyWebhookSignature(input: { transmission: PaypalTransmission; webhookId: string; rawBody: Buffer }): Promise<boolean> {
    const t = input.transmission;
    const head = JSON.stringify({ auth_algo: t.authAlgo, cert_url: t.certUrl, transmission_id: t.transmissionId, transmission_sig: t.transmissionSig, transmission_time: t.transmissionTime, webhook_id: input.webhookId });
    const body = `${head.slice(0, -1)},"webhook_event":${input.rawBody.toString('utf8')}}`;
    const answer = await this.api('notifications.verify-webhook-signature', 'POST', '/v1/notifications/verify-webhook-signature', { body, ok: [200] });
    return answer.verification_status === 'SUCCESS';
  }
}
