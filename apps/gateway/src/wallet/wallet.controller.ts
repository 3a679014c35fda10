import { Body, Controller, Get, Post, Put, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AuthGuard } from '../auth/auth.guard';
import { Principal } from '../auth/token';
import { BillingClient } from './billing.client';
import { RateLimited } from '../edge/rate-limit.guard';
import { answer } from './engine-reply';

type Authed = { principal: Principal };

/**
 * What an organization may do, for the organization its token names. Credit, voucher codes, plans
 * and reversals by hand are operators' (OperatorController), never an organization token's.
 */
@ApiTags('wallet')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1')
export class WalletController {
  constructor(private readonly billing: BillingClient) {}

  @Get('wallet')
  @ApiOperation({ summary: "The organization's balance: plan, voucher, top-up, total, burn rate and runway" })
  @ApiOkResponse({ description: '{ ok, balance }' })
  async balance(@Req() req: Authed) {
    return answer(await this.billing.request(req.principal.orgId, 'balance'));
  }

  @Get('wallet/ledger')
  @ApiOperation({ summary: 'A page of the ledger, oldest first; pass nextCursor back as cursor' })
  @ApiQuery({ name: 'cursor', required: false, type: Number })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  async ledger(@Req() req: Authed, @Query('cursor') cursor?: string, @Query('limit') limit?: string) {
    return answer(await this.billing.request(req.principal.orgId, 'ledger', { cursor: cursor ?? 0, limit: limit === undefined ? undefined : Number(limit) }));
  }

  @Get('wallet/usage')
  @ApiOperation({ summary: 'Amount and GPU-hours per workspace, service, resource and UTC day' })
  @ApiQuery({ name: 'from', required: true, example: '2026-11-01T00:00:00Z' })
  @ApiQuery({ name: 'to', required: true, example: '2026-12-01T00:00:00Z' })
  @ApiQuery({ name: 'workspaceId', required: false })
  async usage(@Req() req: Authed, @Query('from') from?: string, @Query('to') to?: string, @Query('workspaceId') workspaceId?: string) {
    return answer(await this.billing.request(req.principal.orgId, 'usage', { from, to, workspaceId }));
  }

  @Get('resources')
  @ApiOperation({ summary: "The organization's resources with their live state" })
  async resources(@Req() req: Authed) {
    return answer(await this.billing.request(req.principal.orgId, 'resources'));
  }

  @Post('wallet/redeem')
  @RateLimited('redeem')
  @ApiOperation({ summary: 'Redeem a voucher code (once per organization)' })
  @ApiBody({ schema: { example: { idempotencyKey: 'redeem-1', code: 'NOTEBOOK20' } } })
  async redeem(@Req() req: Authed, @Body() body: object) {
    return answer(await this.billing.request(req.principal.orgId, 'redeem', body));
  }

  @Put('wallet/alerts')
  @ApiOperation({ summary: 'Low-balance thresholds: one low_balance event per downward crossing' })
  @ApiBody({ schema: { example: { lowBalance: ['50.00', '10.00'] } } })
  async alerts(@Req() req: Authed, @Body() body: object) {
    return answer(await this.billing.request(req.principal.orgId, 'alerts.set', body));
  }

  @Put('budgets')
  @ApiOperation({ summary: "A workspace's monthly cap (UTC calendar month, the wallet's currency); monthlyCap null removes it" })
  @ApiBody({ schema: { example: { workspaceId: 'ws-1', monthlyCap: '500.00', currency: 'USD' } } })
  async setBudget(@Req() req: Authed, @Body() body: object) {
    return answer(await this.billing.request(req.principal.orgId, 'budgets.set', body));
  }

  @Get('budgets')
  @ApiOperation({ summary: 'Each workspace this month: its cap, what it spent, what is left, the 80%/100% mark reached' })
  async budgets(@Req() req: Authed) {
    return answer(await this.billing.request(req.principal.orgId, 'budgets.get'));
  }

  @Get('ladder')
  @ApiOperation({ summary: 'The enforcement ladder: its settings for this organization (the operator sets overrides) and any countdown to deleting stored data' })
  async ladder(@Req() req: Authed) {
    return answer(await this.billing.request(req.principal.orgId, 'ladder.get'));
  }

  @Get('wallet/authorize')
  @ApiOperation({ summary: 'May a resource of this SKU start for this service?' })
  @ApiQuery({ name: 'service', required: true })
  @ApiQuery({ name: 'sku', required: true })
  @ApiQuery({ name: 'workspaceId', required: true })
  async authorize(@Req() req: Authed, @Query('service') service?: string, @Query('sku') sku?: string, @Query('workspaceId') workspaceId?: string) {
    return answer(await this.billing.request(req.principal.orgId, 'authorize', { service, sku, workspaceId }));
  }
}
