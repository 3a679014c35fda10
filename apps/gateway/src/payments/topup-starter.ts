import { randomUUID } from 'crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, errorReply, ErrorBody, InputError } from '@billing/contracts';
import { currencyLockRefusal, isCurrency, toDisplay, toMinorUnits } from '@billing/domain';
import { TopupIntent, TopupRepository } from '@billing/persistence';
import { BillingClient } from '../wallet/billing.client';
import { PaymentsConfig } from './payments.config';
import { PaymentsMetrics } from './payments.metrics';
import { PAYMENTS_CONFIG } from './payments.tokens';
import { ProviderError } from './provider-call';
import { PAYPAL_CLIENT, PayPalClient, STRIPE_CLIENT, StripeClient } from './provider-clients';
import { dailyRefusal, LimitRefusal, perTopupRefusal, TOPUP_DAILY_WINDOW_MS } from './topup-limits';
import { parseTopupRequest } from './topup-request';
import { buildVnpayPaymentUrl, VNPAY_PAYMENT_WINDOW_MINUTES } from './vnpay';

export type StartReply = { ok: true; topup: Record<string, unknown> } | { ok: false; error: ErrorBody };

/**
 * Starts top-ups over the HTTP API: the limits and the billing currency are checked before any
 * provider is called, then the provider starts the payment and the top-up is recorded pending.
 * Its settlement is TopupSettlement's.
 */
@Injectable()
export class TopupStarter {
  private readonly logger = new Logger('Payments');

  constructor(
    private readonly billing: BillingClient,
    private readonly topups: TopupRepository,
    @Inject(PAYMENTS_CONFIG) private readonly config: PaymentsConfig,
    @Inject(STRIPE_CLIENT) private readonly stripe: StripeClient,
    @Inject(PAYPAL_CLIENT) private readonly paypal: PayPalClient,
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
}
