import { Controller, Get, Inject, Logger, Query, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { TopupRepository } from '@billing/persistence';
import { PaymentsConfig } from './payments.config';
import { PAYMENTS_CONFIG } from './payments.tokens';
import { verifyVnpayIpn } from './vnpay';
import { vnpayReturnResult } from './vnpay-return';

interface Response {
  redirect(status: number, url: string): void;
}

/**
 * Where VNPAY sends the buyer back (VNPAY_RETURN_URL): `?vnp_...&vnp_SecureHash=...`, the
 * payment's result signed as VNPAY signs its IPN. No bearer token: the browser arrives from
 * VNPAY without one. The signature is checked with VNPAY_HASH_SECRET and the top-up looked up,
 * then the browser goes on to the dashboard with what VNPAY said
 * (`/?provider=vnpay&result=<paid|cancelled|failed|invalid_signature|unknown_order|amount_mismatch>&topup=<id>&code=<vnp_ResponseCode>`).
 * Nothing is written and nothing is credited here, whatever the return says: the browser carries
 * it, so only the IPN (VNPAY's own call) or reconciliation settles the top-up.
 */
@ApiExcludeController()
@Controller('payments/vnpay')
export class VnpayReturnController {
  private readonly logger = new Logger('VnpayReturn');

  constructor(
    private readonly topups: TopupRepository,
    @Inject(PAYMENTS_CONFIG) private readonly config: PaymentsConfig,
  ) {}

  @Get('return')
  async back(@Query() query: Record<string, unknown>, @Res() res: Response): Promise<void> {
    const ipn = verifyVnpayIpn(query, this.config.vnpay.hashSecret);
    // vnp_TxnRef is our top-up id without dashes: letters and digits, checked before any lookup.
    const topup = ipn && /^[A-Za-z0-9]{1,64}$/.test(ipn.txnRef) ? await this.topups.findByProviderRef('vnpay', ipn.txnRef) : null;
    const result = vnpayReturnResult(ipn, topup);
    const level = result === 'invalid_signature' || result === 'unknown_order' || result === 'amount_mismatch' ? 'warn' : 'log';
    this.logger[level]({ msg: 'vnpay return', result, topupId: topup?.id ?? null, responseCode: ipn?.responseCode ?? null });
    const params: Record<string, string> = { provider: 'vnpay', result };
    if (topup) params.topup = topup.id;
    if (ipn && result === 'failed') params.code = ipn.responseCode.slice(0, 8);
    res.redirect(303, `/?${new URLSearchParams(params)}`);
  }
}
