import { Body, Controller, HttpException, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ErrorCode, errorReply, MAX_PAYLOAD_BYTES } from '@billing/contracts';
import { AuthGuard } from '../auth/auth.guard';
import { Principal } from '../auth/token';
import { TopupStarter } from './topup-starter';
import { RateLimited } from '../edge/rate-limit.guard';

/** HTTP statuses of the refusals starting a top-up can meet; other errors are bad input (400). */
const STATUS: Record<string, number> = {
  [ErrorCode.CURRENCY_LOCKED]: 409,
  [ErrorCode.MAILBOX_FULL]: 429,
  [ErrorCode.UNAVAILABLE]: 503,
  [ErrorCode.CONFLICT]: 503,
  [ErrorCode.INTERNAL]: 500,
};

type Authed = { principal: Principal; ip?: string };

@ApiTags('top-ups')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1')
export class TopupsController {
  constructor(private readonly starter: TopupStarter) {}

  @Post('topups')
  @RateLimited('topup')
  @ApiOperation({ summary: 'Start a top-up: recorded as pending, credited when the provider confirms the payment to its webhook' })
  @ApiBody({ schema: { example: { amount: '100.00', currency: 'USD', provider: 'stripe' } } })
  async start(@Req() req: Authed & { rawBody?: Buffer }, @Body() body: unknown) {
    refuseLargeBody(req);
    const reply = await this.starter.start(req.principal.orgId, body, req.ip ?? '127.0.0.1');
    if (!reply.ok) throw new HttpException(reply, STATUS[reply.error.code] ?? 400);
    return reply;
  }
}

/** A body that does not travel to the engine (with its 16 KiB limit) is held to the same limit here. */
export function refuseLargeBody(req: { rawBody?: Buffer }): void {
  if ((req.rawBody?.length ?? 0) > MAX_PAYLOAD_BYTES) {
    throw new HttpException(errorReply(ErrorCode.PAYLOAD_TOO_LARGE, `the body is ${req.rawBody!.length} bytes; the limit is ${MAX_PAYLOAD_BYTES}`), 413);
  }
}
