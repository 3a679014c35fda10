import { Body, Controller, Get, Put, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthGuard } from '../auth/auth.guard';
import { Principal } from '../auth/token';
import { BillingClient } from './billing.client';
import { answer } from './engine-reply';

type Authed = { principal: Principal };

/**
 * The organization's low-balance webhooks, for the portal's alert settings: the alert service's
 * `webhooks.get` and `webhooks.set` (it checks every URL and seals the secrets), for the
 * organization the token names. Not under /webhooks/, which is the payment providers' (never rate-limited).
 */
@ApiTags('alerts')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/alerts/webhooks')
export class AlertWebhooksController {
  constructor(private readonly billing: BillingClient) {}

  @Get()
  @ApiOperation({ summary: "The organization's webhook endpoints (URLs and when they were added; never the secrets)" })
  async list(@Req() req: Authed) {
    return answer(await this.billing.webhooks(req.principal.orgId, 'get'));
  }

  @Put()
  @ApiOperation({ summary: 'Replace the webhook endpoints (an empty list removes them all); each secret signs the events sent there' })
  @ApiBody({ schema: { example: { endpoints: [{ url: 'https://hooks.example.com/billing', secret: 'a-secret-of-16-chars-or-more' }] } } })
  async replace(@Req() req: Authed, @Body() body: object) {
    return answer(await this.billing.webhooks(req.principal.orgId, 'set', body));
  }
}
