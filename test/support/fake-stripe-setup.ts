import { FakeAnswer, randomId } from './fake-provider';

/**
 * The fake Stripe's customers and SetupIntents, as Stripe's API reference has them:
 * `POST /v1/customers` (`metadata[orgId]`), `POST /v1/setup_intents` (`customer`, `usage`,
 * default `off_session`; `allowed_payment_method_types[]` or `payment_method_types[]`,
 * `metadata`), `GET /v1/setup_intents/:id`, and the confirmation Stripe.js sends with the
 * publishable key and the client secret (`POST /v1/setup_intents/:id/confirm`). A confirmed
 * SetupIntent succeeds with a new card (`pm_...`) attached to its customer, as Stripe attaches it,
 * or is declined on demand (402 card_error, the SetupIntent back to requires_payment_method).
 */
export interface FakeSetupIntent {
  id: string;
  object: 'setup_intent';
  client_secret: string;
  customer: string | null;
  payment_method: string | null;
  status: string;
  usage: string;
  metadata: Record<string, string>;
  description: string | null;
  payment_method_types: string[];
  created: number;
  livemode: false;
  last_setup_error: { type: string; code: string; decline_code?: string; message: string } | null;
  latest_attempt: string | null;
  next_action: null;
  cancellation_reason: null;
}

const error = (status: number, type: string, message: string, extra: Record<string, unknown> = {}): FakeAnswer => ({
  status,
  headers: { 'request-id': `req_${randomId(14)}` },
  body: { error: { type, message, ...extra } },
});

const CONFIRMABLE = new Set(['requires_payment_method', 'requires_confirmation', 'requires_action']);

export class FakeStripeSetup {
  readonly setupIntents = new Map<string, FakeSetupIntent>();
  private confirmDeclines = 0;

  constructor(
    /** The fake's customers and the organization each was created for ('' for none). */
    private readonly customers: Map<string, string>,
    /** Payment methods saved to customers (payment method -> its customer). */
    private readonly paymentMethods: Map<string, string>,
  ) {}

  /** The next SetupIntent confirmations are declined (the card's bank refused it). */
  declineNextConfirm(times = 1): void {
    this.confirmDeclines += times;
  }

  /** The API's routes of customers and SetupIntents (secret key already checked); null: not one of them. */
  route(method: string, path: string, params: Record<string, any>): FakeAnswer | null {
    let m: RegExpExecArray | null;
    if (method === 'POST' && path === '/v1/customers') return this.createCustomer(params);
    if (method === 'POST' && path === '/v1/setup_intents') return this.createSetupIntent(params);
    if (method === 'GET' && (m = /^\/v1\/setup_intents\/([A-Za-z0-9_]+)$/.exec(path))) {
      const seti = this.setupIntents.get(m[1]);
      return seti ? { status: 200, body: copy(seti) } : error(404, 'invalid_request_error', `No such setupintent: '${m[1]}'`, { code: 'resource_missing', param: 'intent' });
    }
    return null;
  }

  private createCustomer(params: Record<string, any>): FakeAnswer {
    const id = `cus_${randomId(14)}`;
    const metadata: Record<string, string> = params.metadata ?? {};
    this.customers.set(id, metadata.orgId ?? '');
    return { status: 200, body: { id, object: 'customer', created: Math.floor(Date.now() / 1000), description: params.description ?? null, email: params.email ?? null, livemode: false, metadata } };
  }

  private createSetupIntent(params: Record<string, any>): FakeAnswer {
    if (params.customer !== undefined && !this.customers.has(params.customer)) return error(400, 'invalid_request_error', `No such customer: '${params.customer}'`, { code: 'resource_missing', param: 'customer' });
    const usage = params.usage ?? 'off_session';
    if (usage !== 'off_session' && usage !== 'on_session') return error(400, 'invalid_request_error', `Invalid usage: must be one of off_session or on_session`, { code: 'parameter_invalid', param: 'usage' });
    const types = Object.values(params.allowed_payment_method_types ?? params.payment_method_types ?? { 0: 'card' }) as string[];
    const id = `seti_${randomId(24)}`;
    const seti: FakeSetupIntent = {
      id,
      object: 'setup_intent',
      client_secret: `${id}_secret_${randomId(24)}`,
      customer: params.customer ?? null,
      payment_method: null,
      status: 'requires_payment_method',
      usage,
      metadata: params.metadata ?? {},
      description: params.description ?? null,
      payment_method_types: types,
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      last_setup_error: null,
      latest_attempt: null,
      next_action: null,
      cancellation_reason: null,
    };
    this.setupIntents.set(id, seti);
    return { status: 200, headers: { 'request-id': `req_${randomId(14)}` }, body: copy(seti) };
  }

  /**
   * The customer enters a card and it is confirmed (what Stripe.js's confirmSetup does in a
   * browser): a new card attached to the SetupIntent's customer, the SetupIntent succeeded; or,
   * after `declineNextConfirm`, declined. Returns Stripe's answer to the confirmation.
   */
  confirm(setupIntentId: string): FakeAnswer {
    const seti = this.setupIntents.get(setupIntentId);
    if (!seti) return error(404, 'invalid_request_error', `No such setupintent: '${setupIntentId}'`, { code: 'resource_missing', param: 'intent' });
    if (!CONFIRMABLE.has(seti.status)) {
      return error(400, 'invalid_request_error', `You cannot confirm this SetupIntent because it has a status of ${seti.status}.`, { code: 'setup_intent_unexpected_state', setup_intent: copy(seti) });
    }
    seti.latest_attempt = `setatt_${randomId(24)}`;
    if (this.confirmDeclines > 0) {
      this.confirmDeclines--;
      Object.assign(seti, { status: 'requires_payment_method', payment_method: null, last_setup_error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' } });
      return error(402, 'card_error', 'Your card was declined.', { code: 'card_declined', decline_code: 'generic_decline', setup_intent: copy(seti) });
    }
    const pm = `pm_${randomId(24)}`;
    // Stripe attaches the card of a succeeded SetupIntent to its customer.
    if (seti.customer) this.paymentMethods.set(pm, seti.customer);
    Object.assign(seti, { status: 'succeeded', payment_method: pm, last_setup_error: null });
    return { status: 200, body: copy(seti) };
  }

  /** Stripe.js's confirmation from a browser: the publishable key and the SetupIntent's client secret, answered to any origin. */
  browserConfirm(setupIntentId: string, form: URLSearchParams, publishableKey: string): FakeAnswer {
    const cors = { 'access-control-allow-origin': '*' };
    if (form.get('key') !== publishableKey) return { ...error(401, 'invalid_request_error', `Invalid API Key provided: ${String(form.get('key')).slice(0, 8)}********`), headers: cors };
    const seti = this.setupIntents.get(setupIntentId);
    if (!seti || form.get('client_secret') !== seti.client_secret) return { ...error(404, 'invalid_request_error', `No such setupintent: '${setupIntentId}'`, { code: 'resource_missing' }), headers: cors };
    return { ...this.confirm(setupIntentId), headers: cors };
  }
}

const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value));
