import { randomUUID } from 'crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, errorReply, ErrorBody, InputError } from '@billing/contracts';
import { currencyLockRefusal, Decimal, isCurrency, minorUnits, toDisplay } from '@billing/domain';
import { TopupIntent, TopupRepository } from '@billing/persistence';
import { BillingClient } from '../wallet/billing.client';
import { toMinorUnits, fromMinorUnits } from './payment-amounts';
import { PaymentsConfig, SWEEP_BATCH_SIZE } from './payments.config';
import { PAYMENTS_CONFIG } from './payments.tokens';
import { readPaypalEvent, readPaypalHeaders, verifyPaypalTransmission } from './paypal';
import { PAYPAL_CLIENT, PayPalClient, STRIPE_CLIENT, StripeClient } from './provider-clients';
import { readStripeEvent, verifyStripeEvent } from './stripe';
import { parseTopupRequest } from './topup-request';
import { buildVnpayPaymentUrl, VnpayIpnAnswer, VnpayIpnReply, verifyVnpayIpn, vnpayPaid } from './vnpay';

/** Engine answers that a later attempt may not get: the credit or reversal is retried. */
const PASSING_ERRORS: ReadonlySet<string> = new Set([ErrorCode.UNAVAILABLE, ErrorCode.MAILBOX_FULL, ErrorCode.CONFLICT, ErrorCode.INTERNAL]);

/** What a webhook did to its top-up; carried in the answer to help whoever reads the provider's delivery log. */
export type WebhookOutcome =
  | 'credited'
  | 'credit_pending'
  | 'credit_refused'
  | 'failed'
  | 'reversed'
  | 'reversal_pending'
  | 'already_settled'
  | 'unknown_topup'
  | 'amount_mismatch'
  | 'currency_mismatch'
  | 'partial_refund'
  | 'ignored';

export interface WebhookAnswer {
  readonly status: number;
  readonly body: object;
}

type CreditResult = 'credited' | 'pending' | 'refused';

export type StartReply = { ok: true; topup: Record<string, unknown> } | { ok: false; error: ErrorBody };

/**
 * Top-ups: started over the HTTP API, settled by the providers' webhooks, credited by the
 * engine. Each webhook is verified with its provider's scheme, then settles its top-up by one
 * compare-and-set, so a replayed or concurrent copy changes nothing. The engine's `topup` and
 * `reverse` are idempotent by keys derived from the top-up (`topup:<id>`, `reverse:<id>`), so
 * whatever is re-sent after a crash (by a replay or by the sweep) takes effect once. Calls to a
 * provider or to the engine are made between single-statement writes, never in a transaction.
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
        pay = { paypal: { orderId: order.orderId } };
      } else {
        // VNPAY's vnp_TxnRef: letters and digits.
        providerRef = id.replace(/-/g, '');
        const v = this.config.vnpay;
        pay = { vnpay: { paymentUrl: buildVnpayPaymentUrl({ ...v, txnRef: providerRef, amount, currency, clientIp, now }) } };
      }
    } catch (error) {
      this.logger.warn({ msg: 'payment provider refused to start a top-up', provider, orgId, error: (error as Error).message });
      return errorReply(ErrorCode.UNAVAILABLE, `${provider} did not start the payment: ${(error as Error).message}`);
    }
    await this.topups.createPending({ id, orgId, amount, currency, provider, providerRef });
    return { ok: true, topup: { id, status: 'pending', amount: toDisplay(amount, currency), currency, provider, providerRef, ...pay } };
  }

  async stripeWebhook(rawBody: Buffer, signature: string | undefined): Promise<WebhookAnswer> {
    let event;
    try {
      event = verifyStripeEvent(rawBody, signature, this.config.stripe.webhookSecret, this.config.stripe.toleranceSeconds);
    } catch (error) {
      this.logger.warn({ msg: 'stripe webhook refused', reason: (error as Error).message });
      return { status: 400, body: { received: false, error: 'invalid signature' } };
    }
    const outcome = readStripeEvent(event);
    let result: WebhookOutcome;
    if (outcome.kind === 'ignored') {
      result = 'ignored';
    } else {
      const intent = await this.topups.findByProviderRef('stripe', outcome.paymentIntentId);
      if (!intent) result = 'unknown_topup';
      else if (outcome.kind === 'succeeded') {
        if (outcome.topupId !== intent.id) result = 'unknown_topup';
        else if (outcome.currency !== intent.currency) result = 'currency_mismatch';
        else result = await this.succeed(intent, fromMinorUnits(outcome.amountMinor, intent.currency), null);
      } else if (outcome.kind === 'failed') result = await this.fail(intent, outcome.reason);
      else result = await this.reverse(intent, outcome.reason);
    }
    this.logOutcome('stripe', event.id, event.type, result);
    // Stripe retries anything but a 2xx: a webhook we read and chose to ignore is still answered 200.
    return { status: 200, body: { received: true, outcome: result } };
  }

  async vnpayIpn(query: Record<string, unknown>): Promise<VnpayIpnAnswer> {
    try {
      const ipn = verifyVnpayIpn(query, this.config.vnpay.hashSecret);
      if (!ipn) return VnpayIpnReply.INVALID_SIGNATURE;
      const intent = await this.topups.findByProviderRef('vnpay', ipn.txnRef);
      let result: WebhookOutcome;
      if (!intent) result = 'unknown_topup';
      else if (!vnpayPaid(ipn)) {
        result = !ipn.amount.equals(intent.amount) ? 'amount_mismatch' : (await this.topups.markFailed(intent.id, `vnpay response ${ipn.responseCode}, status ${ipn.transactionStatus}`)) ? 'failed' : 'already_settled';
      } else result = await this.succeed(intent, ipn.amount, ipn.transactionNo);
      this.logOutcome('vnpay', ipn.transactionNo ?? ipn.txnRef, `response ${ipn.responseCode}`, result);
      switch (result) {
        case 'unknown_topup':
          return VnpayIpnReply.ORDER_NOT_FOUND;
        case 'amount_mismatch':
          return VnpayIpnReply.INVALID_AMOUNT;
        case 'already_settled':
          return VnpayIpnReply.ALREADY_CONFIRMED;
        default:
          // Recorded: the payment's result is ours now (a credit still pending is the sweep's to finish).
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
      ? await verifyPaypalTransmission(transmission, rawBody, this.config.paypal.webhookId, this.config.paypal.certificates, now)
      : 'PAYPAL-* signature headers missing';
    if (refusal !== null) {
      this.logger.warn({ msg: 'paypal webhook refused', reason: refusal });
      return { status: 400, body: { received: false, error: 'invalid signature' } };
    }
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(rawBody.toString('utf8'));
      if (typeof event !== 'object' || event === null) throw new Error('not an object');
    } catch {
      return { status: 400, body: { received: false, error: 'the body is not a JSON object' } };
    }
    const outcome = readPaypalEvent(event);
    let result: WebhookOutcome;
    if (outcome.kind === 'ignored') result = 'ignored';
    else if (outcome.kind === 'reversed') {
      const byId = outcome.topupId ? await this.topups.findById(outcome.topupId) : null;
      const intent = byId?.provider === 'paypal' ? byId : outcome.captureId ? await this.topups.findByCaptureRef('paypal', outcome.captureId) : null;
      if (!intent) result = 'unknown_topup';
      // A partial refund is not a reversal of the top-up; it is left to an operator.
      else if (outcome.amount !== null && !outcome.amount.equals(intent.amount)) result = 'partial_refund';
      else result = await this.reverse(intent, outcome.reason);
    } else {
      const intent = await this.topups.findByProviderRef('paypal', outcome.orderId);
      if (!intent) result = 'unknown_topup';
      else if (outcome.kind === 'failed') result = await this.fail(intent, outcome.reason);
      else if (outcome.topupId !== null && outcome.topupId !== intent.id) result = 'unknown_topup';
      else if (outcome.currency !== intent.currency) result = 'currency_mismatch';
      else result = await this.succeed(intent, outcome.amount, outcome.captureId);
    }
    this.logOutcome('paypal', String(event.id ?? ''), String(event.event_type ?? ''), result);
    // PayPal retries anything but a 2xx, for days: a verified event we chose to ignore is answered 200.
    return { status: 200, body: { received: true, outcome: result } };
  }

  /** Re-sends the credits and reversals the engine has not confirmed; returns how many it looked at. */
  async sweep(): Promise<number> {
    const due = await this.topups.unconfirmed(this.config.sweepMinAgeMs, SWEEP_BATCH_SIZE);
    for (const intent of due) {
      if (intent.status === 'succeeded') await this.credit(intent);
      else await this.applyReversal(intent);
    }
    return due.length;
  }

  /** A verified "paid" for this top-up, of `amount` (null: unreadable) in its currency. */
  private async succeed(intent: TopupIntent, amount: Decimal | null, captureRef: string | null): Promise<WebhookOutcome> {
    if (amount === null || !amount.equals(intent.amount)) return 'amount_mismatch';
    const settled = await this.topups.markSucceeded(intent.id, captureRef);
    if (!settled) {
      // Another copy won, or the top-up was settled long ago; repair a credit a crash left unconfirmed.
      const current = (await this.topups.findById(intent.id))!;
      if (current.status === 'succeeded' && current.creditedAt === null && current.creditError === null) await this.credit(current);
      return 'already_settled';
    }
    const credited = await this.credit(settled);
    return credited === 'credited' ? 'credited' : credited === 'pending' ? 'credit_pending' : 'credit_refused';
  }

  /** A verified "not paid". After a success it is a reversal (Stripe's payment_intent.payment_failed can come late). */
  private async fail(intent: TopupIntent, reason: string): Promise<WebhookOutcome> {
    if (intent.status === 'succeeded' || intent.status === 'reversed') return this.reverse(intent, reason);
    return (await this.topups.markFailed(intent.id, reason)) ? 'failed' : 'already_settled';
  }

  /** The money went back to the payer: a reversal entry in the ledger if it was credited, never an edit. */
  private async reverse(intent: TopupIntent, reason: string): Promise<WebhookOutcome> {
    if (intent.status === 'pending') return (await this.topups.markFailed(intent.id, reason)) ? 'failed' : this.reverse((await this.topups.findById(intent.id))!, reason);
    if (intent.status === 'failed') return 'already_settled';
    const reversed = await this.topups.markReversed(intent.id, reason);
    if (!reversed) {
      const current = (await this.topups.findById(intent.id))!;
      if (current.status === 'reversed' && current.reversalConfirmedAt === null) await this.applyReversal(current);
      return 'already_settled';
    }
    return this.applyReversal(reversed);
  }

  /**
   * Makes sure the credit happened (the same idempotent `topup`: if the engine had it, nothing
   * changes; if a crash stopped it, it happens now), then takes it back. Crediting first keeps
   * the ledger's story true, and means a credit still in flight cannot land after the reversal.
   */
  private async applyReversal(intent: TopupIntent): Promise<'reversed' | 'reversal_pending'> {
    if (intent.creditError === null) {
      const credited = intent.creditedAt !== null ? 'credited' : await this.credit(intent);
      if (credited === 'pending') return 'reversal_pending';
      if (credited === 'credited') {
        const reply = await this.billing.request(intent.orgId, 'payment.reverse', {
          idempotencyKey: `reverse:${intent.id}`,
          amount: intent.amount.toFixed(minorUnits(intent.currency)),
          currency: intent.currency,
          reference: `${intent.provider}:${intent.providerRef}`,
          reason: (intent.failureReason ?? 'reversed').slice(0, 200),
        });
        if (!reply.ok) {
          // A passing failure or a bug: either way the sweep tries again, and the log says which.
          const log = PASSING_ERRORS.has(reply.error?.code) ? 'warn' : 'error';
          this.logger[log]({ msg: 'the engine did not take the reversal', topupId: intent.id, error: reply.error });
          return 'reversal_pending';
        }
      }
    }
    // Nothing was ever credited (the engine refused the credit): nothing to take back.
    await this.topups.markReversalConfirmed(intent.id);
    return 'reversed';
  }

  private async credit(intent: TopupIntent): Promise<CreditResult> {
    const reply = await this.billing.request(intent.orgId, 'payment.topup', {
      idempotencyKey: `topup:${intent.id}`,
      amount: intent.amount.toFixed(minorUnits(intent.currency)),
      currency: intent.currency,
      provider: intent.provider,
      reference: intent.providerRef,
    });
    if (reply.ok) {
      await this.topups.markCredited(intent.id);
      return 'credited';
    }
    const code: string = reply.error?.code ?? ErrorCode.INTERNAL;
    if (PASSING_ERRORS.has(code)) {
      this.logger.warn({ msg: 'credit not confirmed; the sweep will retry', topupId: intent.id, error: reply.error });
      return 'pending';
    }
    // Paid but refused for good (another top-up fixed another currency first): an operator refunds it.
    this.logger.error({ msg: 'the engine refused the credit of a paid top-up; it needs a refund', topupId: intent.id, orgId: intent.orgId, error: reply.error });
    await this.topups.markCreditRefused(intent.id, `${code}: ${reply.error?.message ?? ''}`);
    return 'refused';
  }

  private logOutcome(provider: string, eventId: string, type: string, outcome: WebhookOutcome): void {
    const level = outcome === 'amount_mismatch' || outcome === 'currency_mismatch' || outcome === 'unknown_topup' ? 'warn' : 'log';
    this.logger[level]({ msg: 'payment webhook', provider, eventId, type, outcome });
  }
}
