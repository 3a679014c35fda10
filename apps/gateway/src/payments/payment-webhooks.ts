import { Inject, Injectable, Logger } from '@nestjs/common';
import { PaymentsConfig } from './payments.config';
import { PAYMENTS_CONFIG } from './payments.tokens';
import { readPaypalHeaders } from './paypal';
import { readPaypalReport } from './paypal-settlement';
import { PAYPAL_WEBHOOK_VERIFIER, PaypalWebhookVerifier } from './paypal-webhook-verifier';
import { verifyStripeEvent } from './stripe';
import { readStripeReport } from './stripe-settlement';
import { TopupSettlement, WebhookOutcome } from './topup-settlement';
import { VnpayIpnAnswer, VnpayIpnReply, verifyVnpayIpn } from './vnpay';
import { readVnpayIpnReport } from './vnpay-settlement';

export interface WebhookAnswer {
  readonly status: number;
  readonly body: object;
}

/**
 * The providers' webhooks (Stripe's events, VNPAY's IPN, PayPal's events): each is verified
 * with its provider's scheme, read as a settlement report and settled by TopupSettlement, and
 * answered the way its provider expects.
 */
@Injectable()
export class PaymentWebhooks {
  private readonly logger = new Logger('Payments');

  constructor(
    private readonly settlement: TopupSettlement,
    @Inject(PAYMENTS_CONFIG) private readonly config: PaymentsConfig,
    /** PAYPAL_WEBHOOK_VERIFICATION: the certificate here (local) or PayPal's verify-webhook-signature API. */
    @Inject(PAYPAL_WEBHOOK_VERIFIER) private readonly paypalVerifier: PaypalWebhookVerifier,
  ) {}

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
    const result = await this.settlement.applyReport('stripe', readStripeReport(event));
    this.logOutcome('stripe', String(event.id).slice(0, 100), String(event.type).slice(0, 100), result);
    // Stripe retries anything but a 2xx: a webhook we read and chose to ignore is still answered 200.
    return answerOf(result);
  }

  async vnpayIpn(query: Record<string, unknown>): Promise<VnpayIpnAnswer> {
    try {
      const ipn = verifyVnpayIpn(query, this.config.vnpay.hashSecret);
      if (!ipn) return VnpayIpnReply.INVALID_SIGNATURE;
      const result = await this.settlement.applyReport('vnpay', readVnpayIpnReport(ipn, query.vnp_PayDate));
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
    const result = await this.settlement.applyReport('paypal', readPaypalReport(event));
    this.logOutcome('paypal', String(event.id ?? '').slice(0, 100), String(event.event_type ?? '').slice(0, 100), result);
    // PayPal retries anything but a 2xx, for days: a verified event we chose to ignore is answered 200.
    return answerOf(result);
  }

  private logOutcome(provider: string, eventId: string, type: string, outcome: WebhookOutcome): void {
    const warn: readonly WebhookOutcome[] = ['amount_mismatch', 'currency_mismatch', 'unknown_topup', 'invalid_event', 'busy'];
    this.logger[warn.includes(outcome) ? 'warn' : 'log']({ msg: 'payment webhook', provider, eventId, type, outcome });
  }
}


/** Stripe's and PayPal's answer: 200 for whatever was read (they retry anything else for days), 503 when they should retry. */
function answerOf(outcome: WebhookOutcome): WebhookAnswer {
  if (outcome === 'busy') return { status: 503, body: { received: false, outcome } };
  return { status: 200, body: { received: true, outcome } };
}
