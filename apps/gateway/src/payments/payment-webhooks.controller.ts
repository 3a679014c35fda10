import { Controller, Get, Headers, HttpCode, Logger, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PaymentWebhooks } from './payment-webhooks';
import { PaypalApprovals } from './paypal-approvals';

/** Provider webhook bodies are small JSON documents; a larger one is refused before any signature work. */
export const MAX_WEBHOOK_BODY_BYTES = 64 * 1024;

/** What these routes use of express's request and response (the gateway has no express typings). */
interface RawRequest {
  readonly rawBody?: Buffer;
  readonly headers: Record<string, string | string[] | undefined>;
}
interface Response {
  status(code: number): { json(body: unknown): unknown };
}

/**
 * The providers' confirmations. No bearer token: each is authenticated by its provider's
 * signature, which covers the exact bytes received, hence the raw body (`rawBody: true` on
 * the Nest application).
 */
@ApiExcludeController()
@Controller('webhooks')
export class PaymentWebhooksController {
  private readonly logger = new Logger('PaymentWebhooks');

  constructor(
    private readonly webhooks: PaymentWebhooks,
    private readonly approvals: PaypalApprovals,
  ) {}

  @Post('stripe')
  async stripe(@Req() req: RawRequest, @Res() res: Response, @Headers('stripe-signature') signature?: string) {
    const raw = this.raw(req, res);
    if (!raw) return;
    await this.orRetryLater('stripe', res, async () => {
      const answer = await this.webhooks.stripeWebhook(raw, signature);
      res.status(answer.status).json(answer.body);
    });
  }

  @Post('paypal')
  async paypal(@Req() req: RawRequest, @Res() res: Response) {
    const raw = this.raw(req, res);
    if (!raw) return;
    await this.orRetryLater('paypal', res, () => this.paypalEvent(raw, req, res));
  }

  /**
   * A webhook that could not be handled (the database out of reach, say) is answered 503 with
   * what to do: the provider delivers it again later, and since nothing settles but by one
   * compare-and-set, a half-handled one left nothing half-done.
   */
  private async orRetryLater(provider: string, res: Response, handle: () => Promise<void>): Promise<void> {
    try {
      await handle();
    } catch (error) {
      this.logger.error({ msg: 'payment webhook not handled; the provider will deliver it again', provider, error: (error as Error).message });
      res.status(503).json({ received: false, error: 'the event could not be handled now; deliver it again later' });
    }
  }

  private async paypalEvent(raw: Buffer, req: RawRequest, res: Response): Promise<void> {
    const answer = await this.webhooks.paypalWebhook(raw, req.headers);
    // Verified (200) and the buyer approved: capture the order now. If PayPal cannot be reached, a
    // 503 makes PayPal deliver the event again later, when the capture is tried again.
    const approved = answer.status === 200 ? approvedOrderId(raw) : null;
    if (approved) {
      const { outcome } = await this.approvals.capture(approved, 'webhook');
      if (outcome === 'retry_later') {
        res.status(503).json({ received: false, error: 'the order could not be captured now; deliver again later' });
        return;
      }
      res.status(200).json({ ...answer.body, capture: outcome });
      return;
    }
    res.status(answer.status).json(answer.body);
  }

  /** VNPAY calls the IPN with GET and the result in the query string; it always expects 200 and an RspCode. */
  @Get('vnpay/ipn')
  @HttpCode(200)
  vnpay(@Query() query: Record<string, unknown>) {
    return this.webhooks.vnpayIpn(query);
  }

  private raw(req: RawRequest, res: Response): Buffer | null {
    if (!Buffer.isBuffer(req.rawBody)) {
      res.status(400).json({ received: false, error: 'a JSON body is required' });
      return null;
    }
    if (req.rawBody.length > MAX_WEBHOOK_BODY_BYTES) {
      res.status(413).json({ received: false, error: `the body is over ${MAX_WEBHOOK_BODY_BYTES} bytes` });
      return null;
    }
    return req.rawBody;
  }
}

/** The order id of a CHECKOUT.ORDER.APPROVED event (its resource is the order), else null. */
function approvedOrderId(raw: Buffer): string | null {
  try {
    const event = JSON.parse(raw.toString('utf8')) as { event_type?: unknown; resource?: { id?: unknown } };
    return event?.event_type === 'CHECKOUT.ORDER.APPROVED' && typeof event.resource?.id === 'string' ? event.resource.id : null;
  } catch {
    return null;
  }
}
