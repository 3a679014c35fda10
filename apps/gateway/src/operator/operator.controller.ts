import { Body, Controller, Get, HttpException, Param, Post, Put, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ErrorCode, errorReply, ORG_ID } from '@billing/contracts';
import { answer } from '../wallet/engine-reply';
import { OperatorClient } from './operator.client';
import { OperatorGuard, OperatorRequest } from './operator.guard';

/** The organization acted on is the path's: checked here, since it becomes a NATS subject token. */
function organization(orgId: string): string {
  if (!ORG_ID.test(orgId)) throw new HttpException(errorReply(ErrorCode.INVALID_ORG_ID, 'orgId must be 1-64 characters of letters, digits, _ or -'), 400);
  return orgId;
}

function jsonObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpException(errorReply(ErrorCode.MALFORMED_JSON, 'the body must be a JSON object'), 400);
  return body as Record<string, unknown>;
}

const future = '2027-01-01T00:00:00Z';

/**
 * What operators do, under `/api/v1/operator`, with an operator token (never an organization's).
 * The organization credited or subscribed is in the path. Every action is audited by the engine
 * under the token's `sub`, with this request's id (`X-Request-Id`, given or made), and the audit
 * is read here.
 */
@ApiTags('operator')
@ApiBearerAuth()
@UseGuards(OperatorGuard)
@Controller('api/v1/operator')
export class OperatorController {
  constructor(private readonly engine: OperatorClient) {}

  @Post('organizations/:orgId/grants')
  @ApiOperation({ summary: 'Grant voucher or plan credit to an organization (audited)' })
  @ApiParam({ name: 'orgId', example: 'org-1' })
  @ApiBody({ schema: { example: { idempotencyKey: 'grant-1', kind: 'voucher', amount: '20.00', currency: 'USD', service: 'ai-notebook', expiresAt: future, reference: 'TICKET-123' } } })
  async grant(@Req() req: OperatorRequest, @Param('orgId') orgId: string, @Body() body: unknown) {
    return answer(await this.engine.wallet(req, organization(orgId), 'grant', jsonObject(body)));
  }

  @Post('organizations/:orgId/topups')
  @ApiOperation({ summary: 'Credit a top-up by hand, e.g. a bank transfer (audited); paid top-ups come from the payment providers' })
  @ApiParam({ name: 'orgId', example: 'org-1' })
  @ApiBody({ schema: { example: { idempotencyKey: 'bank-2026-001', amount: '500.00', currency: 'USD', provider: 'bank', reference: 'SWIFT-REF-1' } } })
  async topup(@Req() req: OperatorRequest, @Param('orgId') orgId: string, @Body() body: unknown) {
    return answer(await this.engine.wallet(req, organization(orgId), 'topup', jsonObject(body)));
  }

  @Post('organizations/:orgId/reversals')
  @ApiOperation({ summary: 'Take back top-up credit by hand (audited): a reversal entry, debt if the money was spent' })
  @ApiParam({ name: 'orgId', example: 'org-1' })
  @ApiBody({ schema: { example: { idempotencyKey: 'rev-1', amount: '500.00', currency: 'USD', reference: 'SWIFT-REF-1', reason: 'transfer recalled' } } })
  async reverse(@Req() req: OperatorRequest, @Param('orgId') orgId: string, @Body() body: unknown) {
    return answer(await this.engine.wallet(req, organization(orgId), 'reverse', jsonObject(body)));
  }

  @Put('organizations/:orgId/ladder')
  @ApiOperation({ summary: "Override the enforcement ladder's settings for one organization (audited): each field given is set, null goes back to the engine's default, one left out is kept" })
  @ApiParam({ name: 'orgId', example: 'org-1' })
  @ApiBody({ schema: { example: { runwayMarks: [86400, 3600], stopOverdraft: '5.00', storageDebtLimit: '50.00', storageDeletionDays: '14', storageReminderDays: ['7', '1'] } } })
  async setLadder(@Req() req: OperatorRequest, @Param('orgId') orgId: string, @Body() body: unknown) {
    return answer(await this.engine.wallet(req, organization(orgId), 'ladder.set', jsonObject(body)));
  }

  @Get('organizations/:orgId/ladder')
  @ApiOperation({ summary: "An organization's ladder: the settings in force, its overrides, any storage countdown" })
  @ApiParam({ name: 'orgId', example: 'org-1' })
  async ladder(@Req() req: OperatorRequest, @Param('orgId') orgId: string) {
    return answer(await this.engine.wallet(req, organization(orgId), 'ladder.get', undefined));
  }

  @Post('organizations/:orgId/plans')
  @ApiOperation({ summary: 'Subscribe an organization to a plan: credit at the start of each period (audited)' })
  @ApiParam({ name: 'orgId', example: 'org-1' })
  @ApiBody({ schema: { example: { plan: 'Pro', amount: '100.00', currency: 'USD', periodDays: 30, rolloverCap: '20.00' } } })
  async subscribe(@Req() req: OperatorRequest, @Param('orgId') orgId: string, @Body() body: unknown) {
    const spec = jsonObject(body);
    if (spec.orgId !== undefined && spec.orgId !== orgId) throw new HttpException(errorReply(ErrorCode.INVALID_FIELD, "the organization is the path's; leave 'orgId' out of the body"), 400);
    return answer(await this.engine.admin(req, 'plans.subscribe', { ...spec, orgId: organization(orgId) }));
  }

  @Post('plans/:subscriptionId/cancel')
  @ApiOperation({ summary: 'Cancel a plan subscription: no further periods (audited)' })
  async cancel(@Req() req: OperatorRequest, @Param('subscriptionId') subscriptionId: string) {
    return answer(await this.engine.admin(req, 'plans.cancel', { subscriptionId }));
  }

  @Post('vouchers')
  @ApiOperation({ summary: 'Create a voucher code (audited, the code kept as a fingerprint): expiry as a date or days after redemption, maximum redemptions, campaign end' })
  @ApiBody({ schema: { example: { code: 'NOTEBOOK20', amount: '20.00', currency: 'USD', service: 'ai-notebook', expiresAfterDays: 30, maxRedemptions: 1000, campaignEndsAt: future } } })
  async createVoucher(@Req() req: OperatorRequest, @Body() body: unknown) {
    return answer(await this.engine.admin(req, 'vouchers.create', jsonObject(body)));
  }

  @Get('audit')
  @ApiOperation({ summary: 'The operator audit, newest first: who did what, when, with which request id and outcome; pass nextCursor back as cursor' })
  @ApiQuery({ name: 'operator', required: false })
  @ApiQuery({ name: 'orgId', required: false })
  @ApiQuery({ name: 'command', required: false, example: 'wallet.grant' })
  @ApiQuery({ name: 'outcome', required: false, description: "'ok', an error code, or 'unknown' (no outcome recorded)" })
  @ApiQuery({ name: 'from', required: false, example: '2026-12-01T00:00:00Z' })
  @ApiQuery({ name: 'to', required: false, example: '2027-01-01T00:00:00Z' })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  async audit(@Req() req: OperatorRequest, @Query() query: Record<string, unknown>) {
    const pick = (name: string) => (typeof query[name] === 'string' ? query[name] : query[name] === undefined ? undefined : null);
    const limit = pick('limit');
    const filter = {
      operator: pick('operator'),
      orgId: pick('orgId'),
      command: pick('command'),
      outcome: pick('outcome'),
      from: pick('from'),
      to: pick('to'),
      cursor: pick('cursor'),
      limit: typeof limit === 'string' ? (/^[0-9]{1,4}$/.test(limit) ? Number(limit) : limit) : limit,
    };
    // A parameter given twice (an array) is refused as not text rather than taken in part.
    for (const [name, value] of Object.entries(filter)) {
      if (value === null) throw new HttpException(errorReply(ErrorCode.INVALID_FIELD, `'${name}' must be given once, as text`), 400);
    }
    return answer(await this.engine.admin(req, 'audit.list', filter));
  }
}
