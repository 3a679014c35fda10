import { execFileSync } from 'child_process';
import { sign, verify, X509Certificate } from 'crypto';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import { deliver, FakeAnswer, FakeProvider, randomId, RecordedRequest } from './fake-provider';

/**
 * A local PayPal speaking the REST API as PayPal documents it, for the parts the gateway uses:
 * OAuth2 client credentials (`POST /v1/oauth2/token`, Basic auth, form body; bearer tokens that
 * expire), Orders v2 (create, get, capture), Payments v2 (refund a capture), and
 * `POST /v1/notifications/verify-webhook-signature`. JSON bodies; `PayPal-Request-Id` makes a
 * repeated POST answer as the first did; errors in PayPal's body `{name, message, debug_id,
 * details: [{issue, description}], links}` (OAuth's `{error, error_description}`). It plays the
 * buyer (`approve`) and sends the webhooks PayPal would, signed as PayPal signs them: the
 * PAYPAL-TRANSMISSION-* headers, SHA256withRSA over `<id>|<time>|<webhook id>|<CRC-32 of the
 * body>` with a key whose self-signed certificate (made by openssl at start) the gateway pins.
 */
export interface FakePayPalOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  /** The id of the webhook the gateway listens at, as PayPal gave it. */
  readonly webhookId: string;
  /** How long tokens last, in seconds (PayPal's: about 9 hours). */
  readonly tokenLifetimeSeconds?: number;
}

interface Order {
  id: string;
  intent: string;
  status: 'CREATED' | 'PAYER_ACTION_REQUIRED' | 'APPROVED' | 'COMPLETED' | 'VOIDED';
  purchase_units: any[];
  returnUrl: string | null;
  cancelUrl: string | null;
  /** The buyer's instrument is refused at capture (INSTRUMENT_DECLINED). */
  declineCapture: boolean;
  create_time: string;
}

interface Capture {
  id: string;
  orderId: string;
  status: string;
  amount: { currency_code: string; value: string };
  custom_id: string | null;
  refunded: number;
}

/** A CRC-32 (IEEE) of our own: what PayPal computes over the body, not the code under test's. */
export function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const DEBUG = () => randomId(13, '0123456789abcdef');
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function paypalError(status: number, name: string, message: string, issue?: string, description?: string): FakeAnswer {
  return {
    status,
    headers: { 'paypal-debug-id': DEBUG() },
    body: {
      name,
      message,
      debug_id: DEBUG(),
      ...(issue ? { details: [{ issue, description: description ?? issue }] } : {}),
      links: [{ href: `https://developer.paypal.com/docs/api/orders/v2/#error-${issue ?? name}`, rel: 'information_link', method: 'GET' }],
    },
  };
}

const unprocessable = (issue: string, description: string) => paypalError(422, 'UNPROCESSABLE_ENTITY', 'The requested action could not be performed, semantically incorrect, or failed business validation.', issue, description);

export class FakePayPal extends FakeProvider {
  readonly orders = new Map<string, Order>();
  readonly captures = new Map<string, Capture>();
  /** Tokens issued, live or not. */
  tokensIssued = 0;
  /** Where PayPal delivers events: the gateway's `/webhooks/paypal`. */
  webhookUrl: string | null = null;
  /** Whether captures and refunds send their webhooks by themselves (as PayPal does). */
  autoWebhooks = true;
  /** Whether approving on the checkout page sends CHECKOUT.ORDER.APPROVED (as PayPal does); off, only the return URL captures. */
  approvalWebhooks = true;
  /** Whether captures are held for PayPal's review (status PENDING, PENDING_REVIEW) until `completeCapture`. */
  reviewCaptures = false;
  /** The certificate the gateway pins (PAYPAL_CERT_PEM). */
  certificatePem = '';
  readonly certUrl = 'https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-fake0001';
  private keyPem = '';
  private readonly tokens = new Map<string, number>();
  private readonly replays = new Map<string, FakeAnswer>();

  constructor(readonly options: FakePayPalOptions) {
    super();
  }

  override async start(): Promise<this> {
    const dir = mkdtempSync(path.join(tmpdir(), 'fake-paypal-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=messageverificationcerts.sandbox.paypal.test'], { stdio: 'ignore' });
      this.keyPem = readFileSync(path.join(dir, 'key.pem'), 'utf8');
      this.certificatePem = readFileSync(path.join(dir, 'cert.pem'), 'utf8');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return super.start();
  }

  /** Every token issued so far stops working (PayPal revoked them). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  protected faultBody(status: number): unknown {
    if (status === 429) return { name: 'RATE_LIMIT_REACHED', message: 'Too many requests. Blocked due to rate limiting.', debug_id: DEBUG() };
    if (status === 503) return { name: 'SERVICE_UNAVAILABLE', message: 'Service Unavailable.', debug_id: DEBUG() };
    return { name: 'INTERNAL_SERVER_ERROR', message: 'An internal server error has occurred.', debug_id: DEBUG() };
  }

  protected async handle(request: RecordedRequest): Promise<FakeAnswer> {
    const path = request.url.split('?')[0];
    if (request.method === 'POST' && path === '/v1/oauth2/token') return this.token(request);
    // The buyer's pages (a browser, no API token): PayPal's checkout, where the order is approved or cancelled.
    if (request.method === 'GET' && path === '/checkoutnow') return this.checkoutPage(new URL(request.url, 'http://fake').searchParams.get('token') ?? '');
    if (request.method === 'POST' && (path === '/checkoutnow/approve' || path === '/checkoutnow/cancel')) return this.buyerChoice(path.endsWith('approve'), new URLSearchParams(request.body).get('token') ?? '');
    const auth = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
    const expiresAt = auth ? this.tokens.get(auth[1]) : undefined;
    if (expiresAt === undefined || expiresAt < Date.now()) return { status: 401, body: { error: 'invalid_token', error_description: 'Token signature verification failed' } };
    let body: any = {};
    if (request.method === 'POST') {
      if (!/^application\/json/.test(String(request.headers['content-type']))) return paypalError(415, 'UNSUPPORTED_MEDIA_TYPE', 'The server does not support the request payload\'s media type.');
      try {
        body = request.body === '' ? {} : JSON.parse(request.body);
      } catch {
        return paypalError(400, 'INVALID_REQUEST', 'Request is not well-formed, syntactically incorrect, or violates schema.', 'MALFORMED_REQUEST_JSON', 'The request JSON is not well formed.');
      }
    }
    const requestId = request.headers['paypal-request-id'];
    const replayKey = typeof requestId === 'string' ? `${path}|${requestId}` : null;
    if (request.method === 'POST' && replayKey && this.replays.has(replayKey)) return this.replays.get(replayKey)!;
    const answer = await this.route(request, path, body);
    if (request.method === 'POST' && replayKey && answer.status < 500) this.replays.set(replayKey, answer);
    return answer;
  }

  private token(request: RecordedRequest): FakeAnswer {
    const expected = `Basic ${Buffer.from(`${this.options.clientId}:${this.options.clientSecret}`).toString('base64')}`;
    if (request.headers.authorization !== expected) return { status: 401, body: { error: 'invalid_client', error_description: 'Client Authentication failed' } };
    if (new URLSearchParams(request.body).get('grant_type') !== 'client_credentials') return { status: 400, body: { error: 'unsupported_grant_type', error_description: 'Grant Type is NULL' } };
    const lifetime = this.options.tokenLifetimeSeconds ?? 32_400;
    const token = `A21AA${randomId(60)}`;
    this.tokens.set(token, Date.now() + lifetime * 1000);
    this.tokensIssued++;
    return { status: 200, body: { scope: 'https://uri.paypal.com/services/payments/payment', access_token: token, token_type: 'Bearer', app_id: 'APP-80W284485P519543T', expires_in: lifetime, nonce: `${new Date().toISOString()}${randomId(20)}` } };
  }

  private async route(request: RecordedRequest, path: string, body: any): Promise<FakeAnswer> {
    let m: RegExpExecArray | null;
    if (request.method === 'POST' && path === '/v2/checkout/orders') return this.createOrder(body);
    if ((m = /^\/v2\/checkout\/orders\/([A-Z0-9]+)$/.exec(path)) && request.method === 'GET') {
      const order = this.orders.get(m[1]);
      return order ? { status: 200, body: this.orderBody(order) } : paypalError(404, 'RESOURCE_NOT_FOUND', 'The specified resource does not exist.', 'INVALID_RESOURCE_ID', 'Specified resource ID does not exist. Please check the resource ID and try again.');
    }
    if ((m = /^\/v2\/checkout\/orders\/([A-Z0-9]+)\/capture$/.exec(path)) && request.method === 'POST') return this.capture(m[1]);
    if ((m = /^\/v2\/payments\/captures\/([A-Z0-9]+)\/refund$/.exec(path)) && request.method === 'POST') return this.refund(m[1], body);
    if (request.method === 'POST' && path === '/v1/notifications/verify-webhook-signature') return this.verifySignature(request.body);
    return paypalError(404, 'NOT_FOUND', `${request.method} ${path} is not a resource of this fake`);
  }

  private createOrder(body: any): FakeAnswer {
    const unit = body?.purchase_units?.[0];
    const value = unit?.amount?.value;
    const currency = unit?.amount?.currency_code;
    if (body?.intent !== 'CAPTURE' && body?.intent !== 'AUTHORIZE') return paypalError(400, 'INVALID_REQUEST', 'Request is not well-formed, syntactically incorrect, or violates schema.', 'INVALID_PARAMETER_VALUE', 'intent');
    if (typeof value !== 'string' || !/^[0-9]+(\.[0-9]{1,2})?$/.test(value) || typeof currency !== 'string') {
      return paypalError(400, 'INVALID_REQUEST', 'Request is not well-formed, syntactically incorrect, or violates schema.', 'MISSING_REQUIRED_PARAMETER', 'purchase_units[0].amount');
    }
    if (currency === 'JPY' && value.includes('.')) return unprocessable('DECIMAL_PRECISION', 'If the currency supports decimals, only two decimal place precision is supported.');
    if (currency === 'VND') return unprocessable('CURRENCY_NOT_SUPPORTED', 'Currency code is not supported.');
    const experience = body?.payment_source?.paypal?.experience_context ?? body?.application_context ?? {};
    const order: Order = {
      id: randomId(17, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'),
      intent: body.intent,
      status: body?.payment_source?.paypal ? 'PAYER_ACTION_REQUIRED' : 'CREATED',
      purchase_units: [{ reference_id: unit.reference_id ?? 'default', custom_id: unit.custom_id, invoice_id: unit.invoice_id, amount: { currency_code: currency, value } }],
      returnUrl: experience.return_url ?? null,
      cancelUrl: experience.cancel_url ?? null,
      declineCapture: false,
      create_time: new Date().toISOString(),
    };
    this.orders.set(order.id, order);
    return { status: 200, body: this.orderBody(order) };
  }

  private orderBody(order: Order): Record<string, unknown> {
    const captures = [...this.captures.values()].filter((c) => c.orderId === order.id);
    const units = order.purchase_units.map((u) => ({ ...u, ...(captures.length ? { payments: { captures: captures.map((c) => this.captureBody(c)) } } : {}) }));
    const links: any[] = [{ href: `${this.url}/v2/checkout/orders/${order.id}`, rel: 'self', method: 'GET' }];
    if (order.status === 'PAYER_ACTION_REQUIRED') links.push({ href: `${this.url}/checkoutnow?token=${order.id}`, rel: 'payer-action', method: 'GET' });
    if (order.status === 'CREATED') links.push({ href: `${this.url}/checkoutnow?token=${order.id}`, rel: 'approve', method: 'GET' });
    if (order.status === 'APPROVED') links.push({ href: `${this.url}/v2/checkout/orders/${order.id}/capture`, rel: 'capture', method: 'POST' });
    return { id: order.id, intent: order.intent, status: order.status, purchase_units: units, create_time: order.create_time, links };
  }

  private captureBody(c: Capture): Record<string, unknown> {
    return {
      id: c.id,
      status: c.status,
      ...(c.status === 'PENDING' ? { status_details: { reason: 'PENDING_REVIEW' } } : {}),
      amount: c.amount,
      final_capture: true,
      custom_id: c.custom_id,
      supplementary_data: { related_ids: { order_id: c.orderId } },
      links: [
        { href: `${this.url}/v2/payments/captures/${c.id}`, rel: 'self', method: 'GET' },
        { href: `${this.url}/v2/payments/captures/${c.id}/refund`, rel: 'refund', method: 'POST' },
        { href: `${this.url}/v2/checkout/orders/${c.orderId}`, rel: 'up', method: 'GET' },
      ],
    };
  }

  private capture(orderId: string): FakeAnswer {
    const order = this.orders.get(orderId);
    if (!order) return paypalError(404, 'RESOURCE_NOT_FOUND', 'The specified resource does not exist.', 'INVALID_RESOURCE_ID', 'Specified resource ID does not exist.');
    if (order.status === 'COMPLETED') return unprocessable('ORDER_ALREADY_CAPTURED', 'Order already captured. If intent=CAPTURE only one capture per order is allowed.');
    if (order.status !== 'APPROVED') return unprocessable('ORDER_NOT_APPROVED', 'Payer has not yet approved the Order for payment.');
    if (order.declineCapture) return unprocessable('INSTRUMENT_DECLINED', 'The instrument presented  was either declined by the processor or bank, or it can\'t be used for this payment.');
    const unit = order.purchase_units[0];
    const capture: Capture = { id: randomId(17, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'), orderId, status: this.reviewCaptures ? 'PENDING' : 'COMPLETED', amount: unit.amount, custom_id: unit.custom_id ?? null, refunded: 0 };
    this.captures.set(capture.id, capture);
    order.status = 'COMPLETED';
    if (capture.status === 'COMPLETED' && this.autoWebhooks && this.webhookUrl) void this.sendEvent('PAYMENT.CAPTURE.COMPLETED', this.captureBody(capture)).catch(() => undefined);
    return { status: 201, body: this.orderBody(order) };
  }

  private refund(captureId: string, body: any): FakeAnswer {
    const capture = this.captures.get(captureId);
    if (!capture) return paypalError(404, 'RESOURCE_NOT_FOUND', 'The specified resource does not exist.', 'INVALID_RESOURCE_ID', 'Specified resource ID does not exist.');
    const total = Number(capture.amount.value);
    const left = Math.round((total - capture.refunded) * 100) / 100;
    if (left <= 0) return unprocessable('CAPTURE_FULLY_REFUNDED', 'The capture has already been fully refunded.');
    const value = body?.amount?.value === undefined ? left : Number(body.amount.value);
    if (body?.amount && body.amount.currency_code !== capture.amount.currency_code) return unprocessable('CURRENCY_MISMATCH', 'Refund must be in the same currency as the capture.');
    if (!(value > 0) || value > left + 1e-9) return unprocessable('REFUND_AMOUNT_EXCEEDED', 'The refund amount must be less than or equal to the capture amount that has not yet been refunded.');
    capture.refunded = Math.round((capture.refunded + value) * 100) / 100;
    capture.status = capture.refunded >= total ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
    const decimals = capture.amount.value.includes('.') ? 2 : 0;
    const refund = {
      id: randomId(17, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'),
      status: 'COMPLETED',
      amount: { currency_code: capture.amount.currency_code, value: value.toFixed(decimals) },
      note_to_payer: body?.note_to_payer,
      custom_id: capture.custom_id,
      links: [
        { href: `${this.url}/v2/payments/refunds/x`, rel: 'self', method: 'GET' },
        { href: `${this.url}/v2/payments/captures/${capture.id}`, rel: 'up', method: 'GET' },
      ],
    };
    if (this.autoWebhooks && this.webhookUrl) void this.sendEvent('PAYMENT.CAPTURE.REFUNDED', refund).catch(() => undefined);
    return { status: 201, body: refund };
  }

  /** PayPal's own check: the signature over the CRC-32 of the event's bytes exactly as sent in `webhook_event`. */
  private verifySignature(text: string): FakeAnswer {
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      return paypalError(400, 'INVALID_REQUEST', 'Request is not well-formed, syntactically incorrect, or violates schema.', 'MALFORMED_REQUEST_JSON');
    }
    const marker = '"webhook_event":';
    const at = text.indexOf(marker);
    if (at < 0 || typeof body.webhook_event !== 'object') return paypalError(400, 'VALIDATION_ERROR', 'Invalid request - see details', 'MISSING_REQUIRED_PARAMETER', 'webhook_event');
    const eventBytes = Buffer.from(text.slice(at + marker.length, text.lastIndexOf('}')).trim(), 'utf8');
    const message = `${body.transmission_id}|${body.transmission_time}|${body.webhook_id}|${crc32(eventBytes)}`;
    let ok = false;
    try {
      ok = body.auth_algo === 'SHA256withRSA' && body.cert_url === this.certUrl && verify('sha256', Buffer.from(message), new X509Certificate(this.certificatePem).publicKey, Buffer.from(String(body.transmission_sig), 'base64'));
    } catch {
      ok = false;
    }
    return { status: 200, body: { verification_status: ok ? 'SUCCESS' : 'FAILURE' } };
  }

  /**
   * The buyer approves the order on PayPal's page: the order becomes APPROVED, PayPal sends
   * CHECKOUT.ORDER.APPROVED (unless `webhook: false`), and the browser is sent to the return
   * URL, which is returned (the test may follow it). `declineCapture`: the instrument will be refused at capture.
   */
  async approve(orderId: string, options: { webhook?: boolean; declineCapture?: boolean } = {}): Promise<{ returnUrl: string; webhook: { status: number; body: any } | null }> {
    const order = this.orders.get(orderId);
    if (!order) throw new Error(`fake PayPal has no order ${orderId}`);
    if (order.status !== 'CREATED' && order.status !== 'PAYER_ACTION_REQUIRED') throw new Error(`order ${orderId} is ${order.status}`);
    order.status = 'APPROVED';
    order.declineCapture = options.declineCapture ?? false;
    const webhook = options.webhook === false ? null : await this.sendEvent('CHECKOUT.ORDER.APPROVED', this.orderBody(order));
    const returnUrl = new URL(order.returnUrl ?? 'http://127.0.0.1/');
    returnUrl.searchParams.set('token', order.id);
    returnUrl.searchParams.set('PayerID', randomId(13, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'));
    return { returnUrl: returnUrl.href, webhook };
  }

  /** PayPal's checkout page for an order: the buyer approves or cancels. */
  private checkoutPage(orderId: string): FakeAnswer {
    const order = this.orders.get(orderId);
    if (!order || (order.status !== 'CREATED' && order.status !== 'PAYER_ACTION_REQUIRED')) return { status: 200, body: '<html><body>Sorry, this checkout session is not available.</body></html>' };
    const unit = order.purchase_units[0];
    const id = escapeHtml(order.id);
    const button = (action: string, label: string) => `<form method="post" action="/checkoutnow/${action}"><input type="hidden" name="token" value="${id}"><button type="submit" data-testid="paypal-${action}">${label}</button></form>`;
    return {
      status: 200,
      body: `<!doctype html><html><head><meta charset="utf-8"><title>PayPal Checkout (fake)</title></head><body><h1>PayPal (fake)</h1><p>Pay ${escapeHtml(String(unit.amount.value))} ${escapeHtml(String(unit.amount.currency_code))}</p>${button('approve', 'Complete purchase')}${button('cancel', 'Cancel and return')}</body></html>`,
    };
  }

  /** The buyer's choice on the checkout page: approve (then PayPal's redirect to the return URL) or cancel (to the cancel URL). */
  private async buyerChoice(approve: boolean, orderId: string): Promise<FakeAnswer> {
    const order = this.orders.get(orderId);
    if (!order || (order.status !== 'CREATED' && order.status !== 'PAYER_ACTION_REQUIRED')) return { status: 200, body: '<html><body>Sorry, this checkout session is not available.</body></html>' };
    if (!approve) {
      const cancelUrl = new URL(order.cancelUrl ?? 'http://127.0.0.1/');
      cancelUrl.searchParams.set('token', order.id);
      return { status: 302, headers: { location: cancelUrl.href }, body: '' };
    }
    const { returnUrl } = await this.approve(order.id, { webhook: this.approvalWebhooks });
    return { status: 302, headers: { location: returnUrl }, body: '' };
  }

  /** The order's capture completes (a capture held for review clears it) and PAYMENT.CAPTURE.COMPLETED is sent now. */
  async completeCapture(orderId: string): Promise<{ status: number; body: any }> {
    const capture = [...this.captures.values()].find((c) => c.orderId === orderId);
    if (!capture) throw new Error(`fake PayPal has no capture of order ${orderId}`);
    if (capture.status === 'PENDING') capture.status = 'COMPLETED';
    return this.sendEvent('PAYMENT.CAPTURE.COMPLETED', this.captureBody(capture));
  }

  /** An event as PayPal delivers it, signed as PayPal signs it. */
  signedEvent(eventType: string, resource: unknown, options: { time?: Date; webhookId?: string } = {}): { payload: string; headers: Record<string, string> } {
    const payload = JSON.stringify({
      id: `WH-${randomId(17, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')}`,
      event_version: '1.0',
      create_time: new Date().toISOString(),
      resource_type: eventType.startsWith('CHECKOUT') ? 'checkout-order' : eventType.includes('REFUND') ? 'refund' : 'capture',
      resource_version: '2.0',
      event_type: eventType,
      summary: `${eventType} (fake)`,
      resource,
    });
    const transmissionId = randomId(36, '0123456789abcdef');
    const transmissionTime = (options.time ?? new Date()).toISOString();
    const message = `${transmissionId}|${transmissionTime}|${options.webhookId ?? this.options.webhookId}|${crc32(Buffer.from(payload))}`;
    return {
      payload,
      headers: {
        'content-type': 'application/json',
        'paypal-transmission-id': transmissionId,
        'paypal-transmission-time': transmissionTime,
        'paypal-transmission-sig': sign('sha256', Buffer.from(message), this.keyPem).toString('base64'),
        'paypal-cert-url': this.certUrl,
        'paypal-auth-algo': 'SHA256withRSA',
      },
    };
  }

  async sendEvent(eventType: string, resource: unknown): Promise<{ status: number; body: any }> {
    if (!this.webhookUrl) throw new Error('fake PayPal has no webhook URL');
    const event = this.signedEvent(eventType, resource);
    return deliver(this.webhookUrl, 'POST', event.headers, event.payload);
  }
}
