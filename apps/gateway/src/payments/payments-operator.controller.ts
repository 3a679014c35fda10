import { Body, Controller, Get, Headers, HttpException, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ErrorCode, errorReply, InputError } from '@billing/contracts';
import { OperatorGuard, OperatorRequest } from '../operator/operator.guard';
import { parseMismatchQuery, PaymentMismatchReport } from './payment-mismatch-report';
import { PaymentRefunds } from './payment-refunds';

/** HTTP statuses of the refusals of these routes; other errors are bad input (400). */
const STATUS: Record<string, number> = {
  [ErrorCode.UNKNOWN_TOPUP]: 404,
  [ErrorCode.NOT_REFUNDABLE]: 409,
  [ErrorCode.REFUND_EXCEEDS_REMAINING]: 409,
  [ErrorCode.IDEMPOTENCY_CONFLICT]: 409,
  [ErrorCode.UNAVAILABLE]: 503,
  [ErrorCode.INTERNAL]: 500,
};

interface Response {
  status(code: number): unknown;
  setHeader(name: string, value: string): unknown;
}

/**
 * The operators' side of paid top-ups, under `/api/v1/operator` with an operator token: refunds
 * (the only way money goes back to a payer: customers cannot refund a top-up) and the report of
 * mismatches between the providers, `topup_intents` and the ledger.
 */
@ApiTags('operator')
@ApiBearerAuth()
@UseGuards(OperatorGuard)
@Controller('api/v1/operator')
export class PaymentsOperatorController {
  constructor(
    private readonly refunds: PaymentRefunds,
    private readonly mismatches: PaymentMismatchReport,
  ) {}

  @Post('topups/:topupId/refunds')
  @ApiOperation({ summary: "Refund a paid top-up, in full or in part (audited): calls the provider's refund API, then reverses the ledger by what it took back; idempotent by the Idempotency-Key header (or idempotencyKey in the body)" })
  @ApiParam({ name: 'topupId', example: '0b6f2c1e-6a38-4c6e-9d3f-2f1d3c4b5a69' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'one refund per key; the same request again gets it back (Idempotent-Replayed: true)' })
  @ApiBody({ schema: { example: { amount: '25.00', reason: 'goodwill: service outage 2026-12-01', idempotencyKey: 'refund-2026-12-02-001' } } })
  async refund(@Req() req: OperatorRequest, @Param('topupId') topupId: string, @Body() body: unknown, @Headers('idempotency-key') headerKey: unknown, @Res({ passthrough: true }) res: Response) {
    const reply = await this.refunds.refund({ operator: req.operator.operator, requestId: req.requestId }, topupId, body, headerKey);
    if (!reply.ok) throw new HttpException(reply, STATUS[reply.error.code] ?? 400);
    if (reply.replayed) {
      res.setHeader('Idempotent-Replayed', 'true');
      res.status(200);
    }
    return reply;
  }

  @Get('payments/mismatches')
  @ApiOperation({ summary: "Mismatches between the payment providers' records, topup_intents and the ledger, for top-ups started since `since` (newest first; pass nextCursor back as cursor). check=local leaves the providers out" })
  @ApiQuery({ name: 'since', required: false, example: '2026-12-01T00:00:00Z' })
  @ApiQuery({ name: 'orgId', required: false })
  @ApiQuery({ name: 'provider', required: false, example: 'stripe' })
  @ApiQuery({ name: 'check', required: false, example: 'provider', description: "'provider' (the default: each top-up's provider is asked) or 'local'" })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  async report(@Query() query: Record<string, unknown>) {
    let parsed;
    try {
      parsed = parseMismatchQuery(query);
    } catch (error) {
      if (error instanceof InputError) throw new HttpException(errorReply(error.code, error.message), 400);
      throw error;
    }
    return this.mismatches.report(parsed);
  }
}
