import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PaypalApprovals } from './paypal-approvals';

interface Response {
  redirect(status: number, url: string): void;
}

/**
 * Where PayPal sends the buyer back (PAYPAL_RETURN_URL): `?token=<order id>&PayerID=...` after
 * approving, with `cancelled=1` (our cancel_url) after cancelling. No bearer token: the browser
 * arrives from PayPal without one, and the order id is all it brings. An approved order is
 * captured (nothing is credited here: the verified capture webhook does that), then the browser
 * goes on to the dashboard with the top-up and what became of it in the query string. Only a
 * pending PayPal top-up of ours is ever sent to PayPal, so the route cannot be used to make the
 * gateway call PayPal about anything else.
 */
@ApiExcludeController()
@Controller('payments/paypal')
export class PaypalReturnController {
  constructor(private readonly approvals: PaypalApprovals) {}

  @Get('return')
  async back(@Query() query: Record<string, unknown>, @Res() res: Response): Promise<void> {
    const orderId = typeof query.token === 'string' ? query.token : '';
    if (query.cancelled === '1') {
      res.redirect(303, `/?${new URLSearchParams({ provider: 'paypal', result: 'cancelled' })}`);
      return;
    }
    const { outcome, topupId } = await this.approvals.capture(orderId, 'return_url');
    res.redirect(303, `/?${new URLSearchParams({ provider: 'paypal', result: outcome, ...(topupId ? { topup: topupId } : {}) })}`);
  }
}
