import { Inject, Injectable, Logger } from '@nestjs/common';
import { TopupRepository } from '@billing/persistence';
import { ProviderError } from './provider-call';
import { PAYPAL_CLIENT, PayPalClient, PayPalOrder } from './provider-clients';
import { TopupSettlement } from './topup-settlement';
import { readPaypalOrderReports } from './paypal-settlement';

/**
 * What capturing an approved order came to:
 * - `captured`: PayPal took the money (capture COMPLETED): the answer settles the top-up at once;
 * - `capture_pending`: PayPal holds the capture for review (PENDING); its later webhook settles it;
 * - `declined`: the buyer's instrument was refused (INSTRUMENT_DECLINED, or a capture DECLINED);
 * - `already_captured`: captured before (the return URL and the webhook race; PayPal's replay or ORDER_ALREADY_CAPTURED): the order is read and settles the top-up;
 * - `not_approved`: PayPal says the buyer has not approved it (someone opened the return URL by hand);
 * - `unknown_order`: no PayPal top-up of ours has that order id (PayPal is not asked);
 * - `not_pending`: the top-up is settled already (or expired): nothing to capture;
 * - `retry_later`: PayPal could not be reached or answered 429/5xx after the retries; the webhook is answered 503 so PayPal delivers it again;
 * - `failed`: PayPal refused the capture for another reason (logged as an error).
 */
export type CaptureOutcome = 'captured' | 'capture_pending' | 'declined' | 'already_captured' | 'not_approved' | 'unknown_order' | 'not_pending' | 'retry_later' | 'failed';

/** PayPal order ids are letters and digits. */
const ORDER_ID = /^[A-Za-z0-9]{1,64}$/;

/**
 * PayPal orders are created with intent CAPTURE, and PayPal takes no money until we capture the
 * order the buyer approved. Two signals say the buyer did, and either may be lost: the browser
 * coming back to the return URL, and the CHECKOUT.ORDER.APPROVED webhook. Both capture here,
 * with one PayPal-Request-Id per top-up (`capture:<top-up id>`), so PayPal answers the second
 * with the first capture; a capture PayPal already made is ORDER_ALREADY_CAPTURED, also fine.
 * The capture's answer settles the top-up at once, through the same machine as the webhooks: a
 * COMPLETED capture is a `captured` fact (its capture id stored, so a refund or dispute naming it
 * finds the top-up even before PAYMENT.CAPTURE.COMPLETED arrives, which then changes nothing), a
 * DECLINED one a failed attempt. Reconciliation captures through here too.
 */
@Injectable()
export class PaypalApprovals {
  private readonly logger = new Logger('PaypalApprovals');

  constructor(
    private readonly topups: TopupRepository,
    @Inject(PAYPAL_CLIENT) private readonly paypal: PayPalClient,
    private readonly settlement: TopupSettlement,
  ) {}

  async capture(orderId: string, source: 'return_url' | 'webhook' | 'reconciliation'): Promise<{ outcome: CaptureOutcome; topupId: string | null }> {
    if (!ORDER_ID.test(orderId)) return { outcome: 'unknown_order', topupId: null };
    const intent = await this.topups.findByProviderRef('paypal', orderId);
    if (!intent) return { outcome: 'unknown_order', topupId: null };
    if (intent.status !== 'pending') return { outcome: 'not_pending', topupId: intent.id };
    let outcome: CaptureOutcome;
    let detail: Record<string, unknown> = {};
    let answer: PayPalOrder | null = null;
    try {
      const order = (answer = await this.paypal.captureOrder(orderId, `capture:${intent.id}`));
      const capture = order.captures[0];
      detail = { orderStatus: order.status, captureId: capture?.id, captureStatus: capture?.status };
      if (capture?.status === 'COMPLETED') outcome = 'captured';
      else if (capture?.status === 'PENDING') outcome = 'capture_pending';
      else if (capture?.status === 'DECLINED' || capture?.status === 'FAILED') outcome = 'declined';
      else outcome = order.status === 'COMPLETED' ? 'captured' : 'failed';
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      detail = { kind: error.kind, status: error.details.status, code: error.details.code, error: error.message };
      if (error.details.code === 'ORDER_ALREADY_CAPTURED') outcome = 'already_captured';
      else if (error.details.code === 'ORDER_NOT_APPROVED') outcome = 'not_approved';
      else if (error.kind === 'declined') outcome = 'declined';
      else if (error.retryable) outcome = 'retry_later';
      else outcome = 'failed';
    }
    if (outcome === 'already_captured') answer = await this.paypal.getOrder(orderId).catch(() => null);
    const settled = answer ? await this.settle(answer) : [];
    const level = outcome === 'failed' ? 'error' : outcome === 'retry_later' || outcome === 'declined' ? 'warn' : 'log';
    this.logger[level]({ msg: 'paypal order capture', source, orderId, topupId: intent.id, outcome, settled, ...detail });
    return { outcome, topupId: intent.id };
  }

  /** The order's captures as facts of its top-up; what each came to. Whatever is not settled here, the webhooks or reconciliation settle. */
  private async settle(order: PayPalOrder): Promise<string[]> {
    const outcomes: string[] = [];
    for (const report of readPaypalOrderReports(order, new Date())) outcomes.push(await this.settlement.applyReport('paypal', report));
    return outcomes;
  }
}
