import { createHmac } from 'crypto';
import { deliver, FakeAnswer, FakeProvider, randomId, RecordedRequest } from './fake-provider';
import { standInStripeJs } from './fake-stripe-js';
import { FakeStripeSetup } from './fake-stripe-setup';

/**
 * A local Stripe speaking Stripe's HTTP API as its reference documents it, for the parts the
 * gateway uses: `POST /v1/payment_intents`, `GET /v1/payment_intents/:id`, `POST /v1/refunds`,
 * `GET /v1/payment_methods/:id` (its `customer`), `GET /v1/customers/:id` (its `metadata.orgId`),
 * customers' create and SetupIntents' create, retrieve and confirm (fake-stripe-setup.ts),
 * with form-encoded bodies (`metadata[topupId]=...`), `Authorization: Bearer sk_...`,
 * `Idempotency-Key` (a repeat with the same parameters gets the first answer back, marked
 * `Idempotent-Replayed: true`; other parameters get 400 idempotency_error; one still running
 * gets 409), and Stripe's error body `{error: {type, code, message}}`. It plays the payer too
 * (`pay`), charges a customer's saved payment method off-session (`confirm=true`,
 * `off_session=true`, `customer`, `payment_method`: succeeded at once, or declined or left
 * processing on demand) and sends the webhooks Stripe would, signed with the endpoint's secret
 * (`Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>">`).
 */
export interface FakePaymentIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_received: number;
  currency: string;
  status: string;
  client_secret: string;
  metadata: Record<string, string>;
  description: string | null;
  created: number;
  livemode: false;
  latest_charge: string | null;
  last_payment_error: { type: string; code: string; decline_code?: string; message: string } | null;
  automatic_payment_methods: { enabled: boolean } | null;
  customer?: string | null;
  payment_method?: string | null;
}

interface Charge {
  id: string;
  amount: number;
  amount_refunded: number;
  payment_intent: string;
  currency: string;
}

interface Stored {
  readonly fingerprint: string;
  answer: FakeAnswer | null;
}

export interface FakeStripeOptions {
  /** The secret key the gateway must call with. */
  readonly secretKey: string;
  /** The webhook endpoint's signing secret (`whsec_...`). */
  readonly webhookSecret: string;
  /** The publishable key its stand-in Stripe.js confirms payments with (`pk_test_...`); the browser side is off without it. */
  readonly publishableKey?: string;
}

const error = (status: number, type: string, message: string, extra: Record<string, unknown> = {}): FakeAnswer => ({
  status,
  headers: { 'request-id': `req_${randomId(14)}` },
  body: { error: { type, message, ...extra } },
});

/** `a[b]=1&a[c][d]=2` as Stripe reads it. */
export function parseStripeForm(text: string): Record<string, any> {
  const out: Record<string, any> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const path = key.replace(/\]/g, '').split('[');
    let node = out;
    for (const part of path.slice(0, -1)) node = node[part] ??= {};
    node[path[path.length - 1]] = value;
  }
  return out;
}

export class FakeStripe extends FakeProvider {
  readonly paymentIntents = new Map<string, FakePaymentIntent>();
  readonly charges = new Map<string, Charge>();
  readonly refunds: any[] = [];
  /** Where Stripe delivers events: the gateway's `/webhooks/stripe`. */
  webhookUrl: string | null = null;
  private readonly idempotency = new Map<string, Stored>();
  private declines = 0;
  /** Answers to idempotent POSTs lost on the way back (503 sent after the request took effect). */
  private lostAnswers = 0;
  private confirmDeclines = 0;
  private processing = 0;
  /** Payment methods saved to customers (payment method -> its customer): what an off-session charge may use. */
  private readonly paymentMethods = new Map<string, string>();
  /** Customers and the organization each was created for (`metadata.orgId`). */
  private readonly customers = new Map<string, string>();
  /** Customers created through the API and the SetupIntents saving cards to them. */
  readonly setup = new FakeStripeSetup(this.customers, this.paymentMethods);
  /** Whether the webhooks of payments confirmed in a browser wait for `releaseWebhooks` (Stripe's event came late). */
  holdWebhooks = false;
  private readonly held: { type: string; object: unknown }[] = [];

  constructor(readonly options: FakeStripeOptions) {
    super();
  }

  /** The next PaymentIntent create is refused as a card decline (402 card_error), as Stripe answers a confirm=true create. */
  declineNext(times = 1): void {
    this.declines += times;
  }

  /**
   * The next `times` idempotent POSTs take effect (a charge is made and kept under its key) but
   * their answer never arrives: a 503, as a timeout or a reset after Stripe did the work looks.
   */
  loseAnswers(times: number): void {
    this.lostAnswers = times;
  }

  /**
   * Creates the customer for an organization (`metadata.orgId`, as the gateway's convention has
   * it) if it is new, and saves a payment method to it, as a SetupIntent with the customer's
   * consent would.
   */
  savePaymentMethod(customer: string, paymentMethod: string, orgId: string): void {
    if (!this.customers.has(customer)) this.customers.set(customer, orgId);
    this.paymentMethods.set(paymentMethod, customer);
  }

  /** The next off-session charges are left `processing` (as a bank debit is) until `completeProcessing`. */
  processNextOffSession(times = 1): void {
    this.processing += times;
  }

  /** A processing PaymentIntent succeeds (or is declined), and its event goes to the webhook endpoint. */
  async completeProcessing(paymentIntentId: string, outcome: 'succeeded' | 'declined' = 'succeeded'): Promise<{ status: number; body: any }> {
    return this.pay(paymentIntentId, outcome);
  }

  /** The PaymentIntents made off-session (auto top-ups), in the order they were made. */
  offSessionIntents(): FakePaymentIntent[] {
    return [...this.paymentIntents.values()].filter((pi) => pi.payment_method);
  }

  protected faultBody(status: number): unknown {
    if (status === 429) return { error: { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests hit the API too quickly.' } };
    return { error: { type: 'api_error', message: 'Something went wrong on Stripe\'s end.' } };
  }

  /** Where the page loads the stand-in Stripe.js from (STRIPE_JS_URL). */
  get jsUrl(): string {
    return `${this.url}/v3/`;
  }

  /** The next payment confirmed in a browser is declined (the card's bank refused it). */
  declineNextConfirm(times = 1): void {
    this.confirmDeclines += times;
  }

  /** Sends the webhooks held by `holdWebhooks`, in order. */
  async releaseWebhooks(): Promise<{ status: number; body: any }[]> {
    const answers = [];
    for (const event of this.held.splice(0)) answers.push(await this.sendEvent(event.type, event.object));
    return answers;
  }

  protected async handle(request: RecordedRequest): Promise<FakeAnswer> {
    const browser = this.browserSide(request);
    if (browser) return browser;
    const auth = request.headers.authorization ?? '';
    if (auth !== `Bearer ${this.options.secretKey}`) {
      return error(401, 'invalid_request_error', `Invalid API Key provided: ${auth.replace(/^Bearer /, '').slice(0, 8)}********`);
    }
    const path = request.url.split('?')[0];
    if (request.method !== 'POST') return this.route(request.method, path, parseStripeForm(request.url.split('?')[1] ?? ''));
    if (!/^application\/x-www-form-urlencoded/.test(String(request.headers['content-type']))) return error(400, 'invalid_request_error', 'Invalid request: bodies are form-encoded');
    const params = parseStripeForm(request.body);
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string') return this.route('POST', path, params);
    const fingerprint = `${path}?${[...new URLSearchParams(request.body)].sort().map(([k, v]) => `${k}=${v}`).join('&')}`;
    const stored = this.idempotency.get(key);
    if (stored) {
      if (stored.fingerprint !== fingerprint) {
        return error(400, 'idempotency_error', `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`);
      }
      if (!stored.answer) return error(409, 'idempotency_error', 'There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ' + key);
      if (this.lostAnswers > 0 && this.lostAnswers--) return error(503, 'api_error', 'The answer was lost on the way back (fake).');
      return { ...stored.answer, headers: { ...stored.answer.headers, 'idempotent-replayed': 'true', 'original-request': 'req_original' } };
    }
    const entry: Stored = { fingerprint, answer: null };
    this.idempotency.set(key, entry);
    const answer = await this.route('POST', path, params);
    // Stripe saves the result of a request that ran (success or 4xx); it does not save a 5xx it could not finish.
    if (answer.status >= 500) this.idempotency.delete(key);
    else entry.answer = answer;
    if (this.lostAnswers > 0 && this.lostAnswers--) return error(503, 'api_error', 'The answer was lost on the way back (fake).');
    return answer;
  }

  private async route(method: string, path: string, params: Record<string, any>): Promise<FakeAnswer> {
    let m: RegExpExecArray | null;
    if (method === 'POST' && path === '/v1/payment_intents') return this.createIntent(params);
    const setup = this.setup.route(method, path, params);
    if (setup) return setup;
    if (method === 'GET' && (m = /^\/v1\/payment_intents\/([A-Za-z0-9_]+)$/.exec(path))) {
      const pi = this.paymentIntents.get(m[1]);
      if (!pi) return error(404, 'invalid_request_error', `No such payment_intent: '${m[1]}'`, { code: 'resource_missing', param: 'intent' });
      // `expand[]=latest_charge` (the SDK writes `expand[0]=...`): the charge object in the place of its id.
      const charge = Object.values(params.expand ?? {}).includes('latest_charge') && pi.latest_charge ? this.charges.get(pi.latest_charge) : undefined;
      return { status: 200, body: charge ? { ...pi, latest_charge: { object: 'charge', ...charge, refunded: charge.amount_refunded === charge.amount } } : pi };
    }
    if (method === 'GET' && (m = /^\/v1\/payment_methods\/([A-Za-z0-9_]+)$/.exec(path))) {
      const customer = this.paymentMethods.get(m[1]);
      if (customer === undefined) return error(404, 'invalid_request_error', `No such PaymentMethod: '${m[1]}'`, { code: 'resource_missing', param: 'payment_method' });
      return { status: 200, body: { id: m[1], object: 'payment_method', type: 'card', card: { brand: 'visa', last4: '4242' }, customer, livemode: false, metadata: {} } };
    }
    if (method === 'GET' && (m = /^\/v1\/customers\/([A-Za-z0-9_]+)$/.exec(path))) {
      const orgId = this.customers.get(m[1]);
      if (orgId === undefined) return error(404, 'invalid_request_error', `No such customer: '${m[1]}'`, { code: 'resource_missing', param: 'id' });
      return { status: 200, body: { id: m[1], object: 'customer', livemode: false, metadata: orgId ? { orgId } : {} } };
    }
    if (method === 'POST' && (m = /^\/v1\/payment_intents\/([A-Za-z0-9_]+)\/cancel$/.exec(path))) return this.cancelIntent(m[1], params);
    if (method === 'POST' && path === '/v1/refunds') return this.createRefund(params);
    return error(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}).`);
  }

  private createIntent(params: Record<string, any>): FakeAnswer {
    const amount = Number(params.amount);
    if (!/^[0-9]+$/.test(String(params.amount ?? '')) || amount < 1) return error(400, 'invalid_request_error', 'Missing required param: amount.', { code: 'parameter_missing', param: 'amount' });
    if (!/^[a-z]{3}$/.test(String(params.currency ?? ''))) return error(400, 'invalid_request_error', 'Invalid currency', { code: 'parameter_invalid_empty', param: 'currency' });
    // Stripe's minimum charge amounts (of the currencies it states one for here): 50 cents, 50 yen.
    const minimum = ({ usd: 50, jpy: 50 } as Record<string, number>)[params.currency];
    if (minimum !== undefined && amount < minimum) return error(400, 'invalid_request_error', `Amount must be at least ${params.currency === 'usd' ? '$0.50 usd' : '¥50 jpy'}`, { code: 'amount_too_small', param: 'amount' });
    const offSession = params.confirm === 'true';
    if (offSession) {
      if (params.off_session !== 'true' || !params.customer || !params.payment_method) return error(400, 'invalid_request_error', 'An off-session confirmation needs off_session, customer and payment_method.', { code: 'parameter_missing' });
      if (this.paymentMethods.get(params.payment_method) !== params.customer) return error(400, 'invalid_request_error', `No such PaymentMethod: '${params.payment_method}' for customer '${params.customer}'`, { code: 'resource_missing', param: 'payment_method' });
    }
    if (this.declines > 0) {
      this.declines--;
      return error(402, 'card_error', 'Your card was declined.', { code: 'card_declined', decline_code: 'generic_decline' });
    }
    const id = `pi_${randomId(24)}`;
    const pi: FakePaymentIntent = {
      id,
      object: 'payment_intent',
      amount,
      amount_received: 0,
      currency: params.currency,
      status: 'requires_payment_method',
      client_secret: `${id}_secret_${randomId(24)}`,
      metadata: params.metadata ?? {},
      description: params.description ?? null,
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      latest_charge: null,
      last_payment_error: null,
      automatic_payment_methods: params.automatic_payment_methods ? { enabled: params.automatic_payment_methods.enabled === 'true' } : null,
      customer: params.customer ?? null,
      payment_method: params.payment_method ?? null,
    };
    this.paymentIntents.set(id, pi);
    if (offSession) {
      // Confirmed at once: the card is charged (its event sent as Stripe sends it), or a bank debit is left processing.
      if (this.processing > 0) {
        this.processing--;
        pi.status = 'processing';
      } else {
        const event = this.settle(pi, 'succeeded');
        if (this.webhookUrl) void this.sendEvent(event.type, event.object).catch(() => undefined);
      }
    }
    return { status: 200, headers: { 'request-id': `req_${randomId(14)}` }, body: JSON.parse(JSON.stringify(pi)) };
  }

  /** `POST /v1/payment_intents/:id/cancel`: only a PaymentIntent no money moved for (Stripe: requires_payment_method, _confirmation, _action, _capture, processing). */
  private cancelIntent(id: string, params: Record<string, any>): FakeAnswer {
    const pi = this.paymentIntents.get(id);
    if (!pi) return error(404, 'invalid_request_error', `No such payment_intent: '${id}'`, { code: 'resource_missing', param: 'intent' });
    if (pi.status === 'succeeded' || pi.status === 'canceled') {
      return error(400, 'invalid_request_error', `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.`, { code: 'payment_intent_unexpected_state' });
    }
    Object.assign(pi, { status: 'canceled', cancellation_reason: params.cancellation_reason ?? null, canceled_at: Math.floor(Date.now() / 1000) });
    return { status: 200, body: pi };
  }

  private createRefund(params: Record<string, any>): FakeAnswer {
    const pi = this.paymentIntents.get(String(params.payment_intent ?? ''));
    if (!pi) return error(400, 'invalid_request_error', `No such payment_intent: '${params.payment_intent}'`, { code: 'resource_missing', param: 'payment_intent' });
    const charge = pi.latest_charge ? this.charges.get(pi.latest_charge) : undefined;
    if (pi.status !== 'succeeded' || !charge) return error(400, 'invalid_request_error', `This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, { code: 'charge_not_refundable' });
    const left = charge.amount - charge.amount_refunded;
    if (left === 0) return error(400, 'invalid_request_error', `Charge ${charge.id} has already been refunded.`, { code: 'charge_already_refunded' });
    const amount = params.amount === undefined ? left : Number(params.amount);
    if (!Number.isSafeInteger(amount) || amount < 1 || amount > left) return error(400, 'invalid_request_error', `Refund amount (${params.amount}) is greater than unrefunded amount on charge (${left})`, { code: 'amount_too_large', param: 'amount' });
    charge.amount_refunded += amount;
    const refund = { id: `re_${randomId(24)}`, object: 'refund', amount, currency: pi.currency, charge: charge.id, payment_intent: pi.id, status: 'succeeded', metadata: params.metadata ?? {}, created: Math.floor(Date.now() / 1000) };
    this.refunds.push(refund);
    if (this.webhookUrl) {
      const chargeObject = { id: charge.id, object: 'charge', amount: charge.amount, amount_refunded: charge.amount_refunded, refunded: charge.amount_refunded === charge.amount, currency: charge.currency, payment_intent: pi.id, metadata: pi.metadata };
      void this.sendEvent('charge.refunded', chargeObject).catch(() => undefined);
    }
    return { status: 200, body: refund };
  }

  /**
   * What a browser asks of Stripe, when the fake has a publishable key: a stand-in for Stripe.js
   * (`GET /v3/`, fake-stripe-js.ts), its payment frame, and the confirmations Stripe.js sends with
   * the publishable key and the intent's client secret (`POST /v1/payment_intents/<id>/confirm`,
   * `POST /v1/setup_intents/<id>/confirm`, form-encoded, answered with
   * `Access-Control-Allow-Origin: *` as Stripe's API answers browsers).
   */
  private browserSide(request: RecordedRequest): FakeAnswer | null {
    if (!this.options.publishableKey) return null;
    const path = request.url.split('?')[0];
    if (request.method === 'GET' && path === '/v3/') return { status: 200, headers: { 'content-type': 'text/javascript; charset=utf-8' }, body: standInStripeJs(this.url) };
    if (request.method === 'GET' && path === '/elements/payment.html') {
      return { status: 200, body: '<!doctype html><html><head><meta charset="utf-8"><title>Payment (fake Stripe)</title></head><body><label>Card number <input value="4242 4242 4242 4242" data-testid="card-number" readonly></label> <span>12 / 34 &middot; 123</span></body></html>' };
    }
    const setup = /^\/v1\/setup_intents\/([A-Za-z0-9_]+)\/confirm$/.exec(path);
    if (request.method === 'POST' && setup) return this.setup.browserConfirm(setup[1], new URLSearchParams(request.body), this.options.publishableKey);
    const m = /^\/v1\/payment_intents\/([A-Za-z0-9_]+)\/confirm$/.exec(path);
    if (request.method !== 'POST' || !m) return null;
    const cors = { 'access-control-allow-origin': '*' };
    const params = new URLSearchParams(request.body);
    if (params.get('key') !== this.options.publishableKey) return { ...error(401, 'invalid_request_error', `Invalid API Key provided: ${String(params.get('key')).slice(0, 8)}********`), headers: cors };
    const pi = this.paymentIntents.get(m[1]);
    if (!pi || params.get('client_secret') !== pi.client_secret) return { ...error(404, 'invalid_request_error', `No such payment_intent: '${m[1]}'`, { code: 'resource_missing' }), headers: cors };
    if (pi.status === 'succeeded') return { ...error(400, 'invalid_request_error', 'You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.', { code: 'payment_intent_unexpected_state' }), headers: cors };
    const declined = this.confirmDeclines > 0;
    if (declined) this.confirmDeclines--;
    const event = this.settle(pi, declined ? 'declined' : 'succeeded');
    if (this.holdWebhooks) this.held.push(event);
    else void this.sendEvent(event.type, event.object).catch(() => undefined);
    if (declined) return { ...error(402, 'card_error', 'Your card was declined.', { code: 'card_declined', decline_code: 'generic_decline', payment_intent: pi }), headers: cors };
    return { status: 200, headers: cors, body: pi };
  }

  /** The PaymentIntent's attempt succeeds (a charge) or is declined; the event Stripe sends for it. */
  private settle(pi: FakePaymentIntent, outcome: 'succeeded' | 'declined'): { type: string; object: unknown } {
    if (outcome === 'succeeded') {
      const charge: Charge = { id: `ch_${randomId(24)}`, amount: pi.amount, amount_refunded: 0, payment_intent: pi.id, currency: pi.currency };
      this.charges.set(charge.id, charge);
      Object.assign(pi, { status: 'succeeded', amount_received: pi.amount, latest_charge: charge.id, last_payment_error: null });
      return { type: 'payment_intent.succeeded', object: JSON.parse(JSON.stringify(pi)) };
    }
    Object.assign(pi, { status: 'requires_payment_method', last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' } });
    return { type: 'payment_intent.payment_failed', object: JSON.parse(JSON.stringify(pi)) };
  }

  /**
   * The payer pays (or fails to): the PaymentIntent succeeds, or its attempt is declined, and
   * the event goes to the webhook endpoint. Returns the endpoint's answer.
   */
  async pay(paymentIntentId: string, outcome: 'succeeded' | 'declined' = 'succeeded'): Promise<{ status: number; body: any }> {
    const pi = this.paymentIntents.get(paymentIntentId);
    if (!pi) throw new Error(`fake Stripe has no ${paymentIntentId}`);
    const event = this.settle(pi, outcome);
    return this.sendEvent(event.type, event.object);
  }

  /** An event as Stripe delivers it, signed with the endpoint's secret. */
  signedEvent(type: string, object: unknown, at = new Date()): { payload: string; headers: Record<string, string> } {
    const payload = JSON.stringify({
      id: `evt_${randomId(24)}`,
      object: 'event',
      api_version: '2025-01-27.acacia',
      created: Math.floor(at.getTime() / 1000),
      data: { object },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    });
    const t = Math.floor(at.getTime() / 1000);
    const v1 = createHmac('sha256', this.options.webhookSecret).update(`${t}.${payload}`, 'utf8').digest('hex');
    return { payload, headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)', 'stripe-signature': `t=${t},v1=${v1}` } };
  }

  async sendEvent(type: string, object: unknown): Promise<{ status: number; body: any }> {
    if (!this.webhookUrl) throw new Error('fake Stripe has no webhook endpoint');
    const event = this.signedEvent(type, JSON.parse(JSON.stringify(object)));
    return deliver(this.webhookUrl, 'POST', event.headers, event.payload);
  }
}
