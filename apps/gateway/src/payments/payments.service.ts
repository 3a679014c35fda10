import { randomUUID } from 'crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, errorReply, ErrorBody, InputError } from '@billing/contracts';
import { applyFact, currencyLockRefusal, isCurrency, LedgerChange, minorUnits, SettlementFact, toDisplay } from '@billing/domain';
import { TopupIntent, TopupRepository } from '@billing/persistence';
import { BillingClient } from '../wallet/billing.client';
import { toMinorUnits } from './payment-amounts';
import { PaymentsConfig, SWEEP_BATCH_SIZE } from './payments.config';
import { PAYMENTS_CONFIG } from './payments.tokens';
import { readPaypalHeaders } from './paypal';
import { PAYPAL_WEBHOOK_VERIFIER, PaypalWebhookVerifier } from './paypal-webhook-verifier';
import { readPaypalReport } from './paypal-settlement';
import { PAYPAL_CLIENT, PayPalClient, STRIPE_CLIENT, StripeClient } from './provider-clients';
import { verifyStripeEvent } from './stripe';
import { SettlementReport, TopupLookup } from './settlement-report';
import { readStripeReport } from './stripe-settlement';
import { parseTopupRequest } from './topup-request';
import { buildVnpayPaymentUrl, VNPAY_PAYMENT_WINDOW_MINUTES, VnpayIpnAnswer, VnpayIpnReply, verifyVnpayIpn } from './vnpay';
import { ProviderError } from './provider-call';
import { PaymentsMetrics } from './payments.metrics';
import { dailyRefusal, LimitRefusal, perTopupRefusal, TOPUP_DAILY_WINDOW_MS } from './topup-limits';
import { readVnpayIpnReport } from './vnpay-settlement';

/** Engine answers that a later attempt may not get: the credit or reversal is retried. */
const PASSING_ERRORS: ReadonlySet<string> = new Set([ErrorCode.UNAVAILABLE, ErrorCode.MAILBOX_FULL, ErrorCode.CONFLICT, ErrorCode.INTERNAL]);

/** What a webhook did to its top-up; carried in the answer to help whoever reads the provider's delivery log. */
export type WebhookOutcome =
  /** The fact made a credit (a payment, or money given back after a won dispute) and the engine took it; pending: not yet, the sweep goes on; refused: for good. */
  | 'credited'
  | 'credit_pending'
  | 'credit_refused'
  /** The fact made a reversal (a refund, a dispute) and the engine took it; or not yet; or refused for good. */
  | 'reversed'
  | 'reversal_pending'
  | 'reversal_refused'
  /** The fact was recorded and the ledger already holds what it should: the payment failed, expired, or nothing changes (a late failure after a success). */
  | 'failed'
  | 'expired'
  | 'recorded'
  /** This fact was recorded before: nothing changes. */
  | 'already_settled'
  | 'unknown_topup'
  | 'amount_mismatch'
  | 'currency_mismatch'
  /** Of a type used, but without what that type must carry: nothing recorded. */
  | 'invalid_event'
  /** The top-up holds MAX_SETTLEMENT_FACTS facts already: nothing recorded. */
  | 'too_many_facts'
  /** Other writers kept winning the compare-and-set: nothing recorded, the provider is asked to retry. */
  | 'busy'
  | 'ignored';

/** Compare-and-set attempts of one fact before the provider is asked to retry (each lost attempt means another fact got in). */
export const MAX_SETTLE_ATTEMPTS = 20;
/** A top-up id as we make them (the column is a uuid: anything else is not ours and is not looked up). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface WebhookAnswer {
  readonly status: number;
  readonly body: object;
}

/** How sending a top-up's unconfirmed ledger changes ended: all taken, stopped by a passing failure, or stopped by a refusal for good. */
type Delivery = 'sent' | 'pending' | 'refused';

export type StartReply = { ok: true; topup: Record<string, unknown> } | { ok: false; error: ErrorBody };

/**
 * Top-ups: started over the HTTP API, settled by the providers' webhooks, credited by the
 * engine. Each webhook is verified with its provider's scheme and read as a fact of the
 * settlement machine (`libs/domain/src/settlement.ts`), which the top-up's row stores by one
 * compare-and-set with the ledger change the fact made, if any; a replayed or concurrent copy
 * changes nothing. The engine's `payment.topup` and `payment.reverse` are idempotent by each
 * change's own key (`topup:<id>`, then `reverse:<id>:<n>` or `topup:<id>:<n>`), so whatever is
 * re-sent after a crash (by a replay or by the sweep) takes effect once. Calls to a provider or
 * to the engine are made between single-statement writes, never in a transaction.
 */
@Injectable()
export class PaymentsService {
  private readonly logger = new Logger('Payments');

  constructor(
    private readonly billing: BillingClient,
    private readonly topups: TopupRepository,
    @Inject(PAYMENTS_CONFIG) private readonly config: PaymentsConfig,
    @Inject(STRIPE_CLIENT) private readonly stripe: StripeClient,
    @Inject(PAYPAL_CLIENT) private readonly paypal: PayPalClient,
    /** PAYPAL_WEBHOOK_VERIFICATION: the certificate here (local) or PayPal's verify-webhook-signature API. */
    @Inject(PAYPAL_WEBHOOK_VERIFIER) private readonly paypalVerifier: PaypalWebhookVerifier,
    private readonly metrics: PaymentsMetrics,
  ) {}

  /** Records a pending top-up and returns what the browser needs to pay it. */
  async start(orgId: string, body: unknown, clientIp: string, now = new Date()): Promise<StartReply> {
    let request;
    try {
      request = parseTopupRequest(body);
    } catch (error) {
      if (error instanceof InputError) return errorReply(error.code, error.message);
      throw error;
    }
    const { amount, currency, provider } = request;
    // The limits, then the currency, are refused before any provider is called.
    const limits = this.config.limits;
    const outOfBounds = perTopupRefusal(limits, amount, currency);
    if (outOfBounds) return this.limitRefused(orgId, outOfBounds);
    let started;
    try {
      started = await this.topups.startedSince(orgId, currency, new Date(now.getTime() - TOPUP_DAILY_WINDOW_MS));
    } catch (error) {
      this.logger.error({ msg: 'top-ups cannot be read; none is started', orgId, error: (error as Error).message });
      return errorReply(ErrorCode.UNAVAILABLE, 'top-ups cannot be recorded now; nothing was started, try again');
    }
    const daily = dailyRefusal(limits, amount, currency, started);
    if (daily) return this.limitRefused(orgId, daily);
    // The currency is refused before any money moves, not after the payment when the engine would refuse the credit.
    const balance = await this.billing.request(orgId, 'balance');
    if (!balance.ok) return balance;
    // A paid top-up not yet credited fixes the currency as surely as a credited one.
    const reported: unknown = balance.balance?.currency ?? null;
    const billingCurrency = isCurrency(reported) ? reported : await this.topups.uncreditedCurrency(orgId);
    const refused = currencyLockRefusal(billingCurrency, currency);
    if (refused) return errorReply(ErrorCode.CURRENCY_LOCKED, refused);
    const id = randomUUID();
    let providerRef: string;
    let pay: Record<string, unknown>;
    try {
      if (provider === 'stripe') {
        const intent = await this.stripe.createPaymentIntent({ topupId: id, orgId, amountMinor: toMinorUnits(amount, currency), currency });
        providerRef = intent.id;
        pay = { stripe: { paymentIntentId: intent.id, clientSecret: intent.clientSecret } };
      } else if (provider === 'paypal') {
        const order = await this.paypal.createOrder({ topupId: id, amount, currency });
        providerRef = order.orderId;
        pay = { paypal: { orderId: order.orderId, approveUrl: order.approveUrl } };
      } else {
        // VNPAY's vnp_TxnRef: letters and digits.
        providerRef = id.replace(/-/g, '');
        const v = this.config.vnpay;
        pay = { vnpay: { paymentUrl: buildVnpayPaymentUrl({ ...v, txnRef: providerRef, amount, currency, clientIp, now }) } };
      }
    } catch (error) {
      this.logger.warn({ msg: 'payment provider refused to start a top-up', provider, orgId, error: (error as Error).message });
      // The provider refused this payment as asked (an amount under its minimum, say): the browser's request, not an outage.
      if (error instanceof ProviderError && (error.kind === 'invalid' || error.kind === 'declined')) {
        return errorReply(ErrorCode.PROVIDER_REFUSED, `${provider} refused the payment: ${error.message}`);
      }
      return errorReply(ErrorCode.UNAVAILABLE, `${provider} did not start the payment: ${(error as Error).message}`);
    }
    const expiresAt = new Date(now.getTime() + this.paymentWindowMs(provider));
    let recorded;
    try {
      // The daily limit again, atomically with the insert: a concurrent start may have taken what was left.
      recorded = await this.topups.createPending({ id, orgId, amount, currency, provider, providerRef, expiresAt }, now, { dailyMax: limits[currency].dailyMax, windowMs: TOPUP_DAILY_WINDOW_MS });
    } catch (error) {
      // Nothing is recorded, so nothing is half-made: the payment made at the provider has no page to be paid on (no one got its link).
      this.logger.error({ msg: 'a started top-up could not be recorded; it was not given to the browser', provider, orgId, providerRef, error: (error as Error).message });
      return errorReply(ErrorCode.UNAVAILABLE, 'the top-up could not be recorded; nothing was charged, try again');
    }
    if ('refused' in recorded) {
      this.logger.warn({ msg: 'a started top-up was refused by the daily limit at the last moment (concurrent starts); it was not given to the browser', provider, orgId, providerRef });
      return this.limitRefused(orgId, dailyRefusal(limits, amount, currency, recorded.refused)!);
    }
    return { ok: true, topup: { id, status: 'pending', amount: toDisplay(amount, currency), currency, provider, providerRef, expiresAt: expiresAt.toISOString(), ...pay } };
  }

  /** How long the payer has: VNPAY's is the vnp_ExpireDate signed into the URL, the others' are settings. */
  paymentWindowMs(provider: TopupIntent['provider']): number {
    if (provider === 'vnpay') return VNPAY_PAYMENT_WINDOW_MINUTES * 60_000;
    return provider === 'stripe' ? this.config.windows.stripeMs : this.config.windows.paypalMs;
  }

  private limitRefused(orgId: string, refusal: LimitRefusal): StartReply {
    this.metrics.limitRefusals.inc({ code: refusal.code });
    this.logger.log({ msg: 'top-up refused by its limits', orgId, code: refusal.code });
    return errorReply(refusal.code, refusal.message);
  }

  /**
   * Applies a fact the gateway learnt itself (an operator refund's answer, reconciliation's expiry) to a
   * top-up, through the same machine and compare-and-set as a webhook's.
   */
  async applyFact(intent: TopupIntent, fact: SettlementFact): Promise<WebhookOutcome> {
    return this.settle(intent, fact);
  }

  async stripeWebhook(rawBody: Buffer, signature: string | undefined): Promise<WebhookAnswer> {
    let event;
    try {
      event = verifyStripeEvent(rawBody, signature, this.config.stripe.webhookSecret, this.config.stripe.toleranceSeconds);
    } catch (error) {
      this.logger.warn({ msg: 'stripe webhook refused', reason: (error as Error).message });
      // Stripe's verifier checks the signature before it parses: a body that is not JSON passed it.
      return { status: 400, body: { received: false, error: error instanceof SyntaxError ? 'the body is not a JSON object' : 'invalid signature' } };
    }
    if (typeof event !== 'object' || event === null || Array.isArray(event)) return { status: 400, body: { received: false, error: 'the body is not a JSON object' } };
    const result = await this.applyReport('stripe', readStripeReport(event));
    this.logOutcome('stripe', String(event.id).slice(0, 100), String(event.type).slice(0, 100), result);
    // Stripe retries anything but a 2xx: a webhook we read and chose to ignore is still answered 200.
    return answerOf(result);
  }

  async vnpayIpn(query: Record<string, unknown>): Promise<VnpayIpnAnswer> {
    try {
      const ipn = verifyVnpayIpn(query, this.config.vnpay.hashSecret);
      if (!ipn) return VnpayIpnReply.INVALID_SIGNATURE;
      const result = await this.applyReport('vnpay', readVnpayIpnReport(ipn, query.vnp_PayDate));
      this.logOutcome('vnpay', ipn.transactionNo ?? ipn.txnRef, `response ${ipn.responseCode}`, result);
      switch (result) {
        case 'unknown_topup':
          return VnpayIpnReply.ORDER_NOT_FOUND;
        case 'amount_mismatch':
        case 'currency_mismatch':
          return VnpayIpnReply.INVALID_AMOUNT;
        case 'already_settled':
          return VnpayIpnReply.ALREADY_CONFIRMED;
        case 'busy':
        case 'invalid_event':
          // VNPAY retries an IPN answered 99.
          return VnpayIpnReply.UNKNOWN_ERROR;
        default:
          // Recorded: the payment's result is ours now (a ledger change still pending is the sweep's to finish).
          return VnpayIpnReply.CONFIRMED;
      }
    } catch (error) {
      this.logger.error({ msg: 'vnpay IPN failed', error: (error as Error).message });
      return VnpayIpnReply.UNKNOWN_ERROR;
    }
  }

  async paypalWebhook(rawBody: Buffer, headers: Record<string, string | string[] | undefined>, now = new Date()): Promise<WebhookAnswer> {
    const transmission = readPaypalHeaders(headers);
    const refusal = transmission
      ? await this.paypalVerifier.verify(transmission, rawBody, now)
      : 'PAYPAL-* signature headers missing';
    if (refusal !== null) {
      this.logger.warn({ msg: 'paypal webhook refused', reason: refusal });
      return { status: 400, body: { received: false, error: 'invalid signature' } };
    }
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(rawBody.toString('utf8'));
      if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new Error('not an object');
    } catch {
      return { status: 400, body: { received: false, error: 'the body is not a JSON object' } };
    }
    const result = await this.applyReport('paypal', readPaypalReport(event));
    this.logOutcome('paypal', String(event.id ?? '').slice(0, 100), String(event.event_type ?? '').slice(0, 100), result);
    // PayPal retries anything but a 2xx, for days: a verified event we chose to ignore is answered 200.
    return answerOf(result);
  }

  /** Re-sends the ledger changes the engine has not confirmed; returns how many top-ups it looked at. */
  async sweep(): Promise<number> {
    const due = await this.topups.unsent(this.config.sweepMinAgeMs, SWEEP_BATCH_SIZE);
    for (const intent of due) await this.deliver(intent);
    return due.length;
  }

  /**
   * Applies what a verified provider event says to the top-up it is about, through the
   * settlement machine. Reconciliation feeds the same path with what it asks the providers.
   */
  async applyReport(provider: TopupIntent['provider'], report: SettlementReport): Promise<WebhookOutcome> {
    if (report.kind === 'ignored') return 'ignored';
    if (report.kind === 'invalid') {
      this.logger.warn({ msg: 'payment event unreadable', provider, reason: report.reason });
      return 'invalid_event';
    }
    const intent = await this.find(provider, report.find);
    if (!intent || (report.topupId !== null && report.topupId !== intent.id)) return 'unknown_topup';
    if (report.currency !== null && report.currency !== intent.currency) return 'currency_mismatch';
    if (report.paymentAmount !== null && !report.paymentAmount.equals(intent.amount)) return 'amount_mismatch';
    const input = report.input(intent.currency);
    if (input === null) return 'amount_mismatch';
    // A capture is of the top-up's amount; a refund, a dispute or a reversal is never more than it.
    if (input.kind === 'captured' && !input.amount.equals(intent.amount)) return 'amount_mismatch';
    const amounts = input.kind === 'refund' ? [input.amount, input.total] : input.kind === 'dispute' || input.kind === 'reversal' ? [input.amount] : [];
    if (amounts.some((a) => a !== null && a.greaterThan(intent.amount))) return 'amount_mismatch';
    return this.settle(intent, { key: report.key, at: report.at, input });
  }

  private async find(provider: TopupIntent['provider'], find: TopupLookup): Promise<TopupIntent | null> {
    if (find.topupId && UUID.test(find.topupId)) {
      const byId = await this.topups.findById(find.topupId);
      if (byId?.provider === provider) return byId;
    }
    if (find.providerRef) {
      const byRef = await this.topups.findByProviderRef(provider, find.providerRef);
      if (byRef) return byRef;
    }
    for (const captureRef of find.captureRefs ?? []) {
      const byCapture = captureRef ? await this.topups.findByCaptureRef(provider, captureRef) : null;
      if (byCapture) return byCapture;
    }
    return null;
  }

  /**
   * Adds the fact to the top-up's settlement by compare-and-set on its version: of any number
   * of writers at once, one stores, the others start again from what it stored (and find the
   * fact there if it was the same). Then sends what the engine has not confirmed, in order.
   */
  private async settle(intent: TopupIntent, fact: SettlementFact): Promise<WebhookOutcome> {
    let current: TopupIntent | null = intent;
    for (let attempt = 0; attempt < MAX_SETTLE_ATTEMPTS && current; attempt++) {
      const result = applyFact(current.settlement, fact);
      if (result.outcome === 'refused') {
        this.logger.error({ msg: 'settlement fact refused', topupId: current.id, fact: fact.key, reason: result.reason });
        return 'too_many_facts';
      }
      if (result.outcome === 'duplicate') {
        // A repeat: repair what a crash may have left unsent (a no-op in the engine otherwise).
        await this.deliver(current);
        return 'already_settled';
      }
      const saved = await this.topups.saveSettlement(current.id, current.version, result.settlement, result.view);
      if (!saved) {
        current = await this.topups.findById(current.id);
        continue;
      }
      const delivery = await this.deliver(saved);
      if (result.emitted) return outcomeOf(result.emitted, delivery);
      return result.view.status === 'failed' ? 'failed' : result.view.status === 'expired' ? 'expired' : 'recorded';
    }
    this.logger.warn({ msg: 'settlement busy; the provider will retry', topupId: intent.id, fact: fact.key });
    return 'busy';
  }

  /**
   * Sends the top-up's ledger changes the engine has not confirmed, one after the other (a
   * reversal never overtakes the credit it takes back), each with its own idempotency key, so
   * whatever is sent again after a crash, by a webhook's repeat or by the sweep, takes effect once.
   */
  private async deliver(intent: TopupIntent): Promise<Delivery> {
    if (intent.creditError !== null) return 'refused';
    const changes = intent.settlement.changes;
    for (let i = intent.changesConfirmed; i < changes.length; i++) {
      const change = changes[i];
      const reply = await this.billing.request(intent.orgId, change.kind === 'credit' ? 'payment.topup' : 'payment.reverse', this.command(intent, change));
      if (reply.ok) {
        await this.topups.markChangesConfirmed(intent.id, i + 1);
        continue;
      }
      const code: string = reply.error?.code ?? ErrorCode.INTERNAL;
      if (PASSING_ERRORS.has(code)) {
        this.logger.warn({ msg: 'ledger change not confirmed; the sweep will retry', topupId: intent.id, key: change.idempotencyKey, error: reply.error });
        return 'pending';
      }
      // Refused for good (another top-up fixed another currency first): an operator settles it by hand.
      this.logger.error({ msg: 'the engine refused a ledger change of a paid top-up; it needs an operator', topupId: intent.id, orgId: intent.orgId, key: change.idempotencyKey, error: reply.error });
      await this.topups.markLedgerRefused(intent.id, `${change.idempotencyKey}: ${code}: ${reply.error?.message ?? ''}`);
      return 'refused';
    }
    return 'sent';
  }

  private command(intent: TopupIntent, change: LedgerChange): object {
    const amount = change.amount.toFixed(minorUnits(intent.currency));
    if (change.kind === 'credit') return { idempotencyKey: change.idempotencyKey, amount, currency: intent.currency, provider: intent.provider, reference: intent.providerRef };
    // The reference names the top-up's grant (`<provider>:<reference>`), which the reversal draws on first.
    return { idempotencyKey: change.idempotencyKey, amount, currency: intent.currency, reference: `${intent.provider}:${intent.providerRef}`, reason: change.reason };
  }

  private logOutcome(provider: string, eventId: string, type: string, outcome: WebhookOutcome): void {
    const warn: readonly WebhookOutcome[] = ['amount_mismatch', 'currency_mismatch', 'unknown_topup', 'invalid_event', 'busy'];
    this.logger[warn.includes(outcome) ? 'warn' : 'log']({ msg: 'payment webhook', provider, eventId, type, outcome });
  }
}

function outcomeOf(emitted: LedgerChange, delivery: Delivery): WebhookOutcome {
  if (emitted.kind === 'credit') return delivery === 'sent' ? 'credited' : delivery === 'pending' ? 'credit_pending' : 'credit_refused';
  return delivery === 'sent' ? 'reversed' : delivery === 'pending' ? 'reversal_pending' : 'reversal_refused';
}

/** Stripe's and PayPal's answer: 200 for whatever was read (they retry anything else for days), 503 when they should retry. */
function answerOf(outcome: WebhookOutcome): WebhookAnswer {
  if (outcome === 'busy') return { status: 503, body: { received: false, outcome } };
  return { status: 200, body: { received: true, outcome } };
}
