import { Controller, Get, HttpException, Param, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ErrorCode, errorReply } from '@billing/contracts';
import { TopupRepository } from '@billing/persistence';
import { AuthGuard } from '../auth/auth.guard';
import { Principal } from '../auth/token';
import { topupView } from './topup-view';

type Authed = { principal: Principal };

/** A top-up id as the gateway makes them; anything else is no top-up of ours and is not looked up. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What became of one of the organization's own top-ups: the dashboard follows the one it started
 * (or came back from a provider with) until it is credited. Another organization's top-up is
 * answered exactly as one that does not exist.
 */
@ApiTags('top-ups')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1')
export class TopupStatusController {
  constructor(private readonly topups: TopupRepository) {}

  @Get('topups/:id')
  @ApiOperation({ summary: "One of the organization's top-ups: pending until its provider confirms the payment, credited once the engine took the credit" })
  @ApiParam({ name: 'id', description: 'the top-up id POST /api/v1/topups answered' })
  @ApiOkResponse({ description: '{ ok, topup: { id, status, credited, amount, currency, provider, providerRef, createdAt, settledAt, creditedAt, reason } }' })
  async get(@Req() req: Authed, @Param('id') id: string) {
    const intent = UUID.test(id) ? await this.topups.findById(id) : null;
    if (!intent || intent.orgId !== req.principal.orgId) throw new HttpException(errorReply(ErrorCode.UNKNOWN_TOPUP, 'no such top-up for this organization'), 404);
    return { ok: true, topup: topupView(intent) };
  }
}
