import { Body, Controller, Delete, Get, HttpCode, HttpException, Inject, Post, Put, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ErrorCode, errorReply, InputError } from '@billing/contracts';
import { currencyLockRefusal, isCurrency, toPaymentText } from '@billing/domain';
import { AutoTopupAttempt, AutoTopupRepository, AutoTopupSettings } from '@billing/persistence';
import { AuthGuard } from '../auth/auth.guard';
import { Principal } from '../auth/token';
import { GatewayConfig } from '../config';
import { RateLimited } from '../edge/rate-limit.guard';
import { GATEWAY_CONFIG } from '../tokens';
import { BillingClient } from '../wallet/billing.client';
import { refuseLargeBody } from './topups.controller';
import { checkPaymentMethodOwner, parseAutoTopupRequest } from './auto-topup-request';
import { cardOfSetupIntent, startCardSetup } from './auto-topup-setup';
import { AutoTopups } from './auto-topups';
import { PaymentsConfig } from './payments.config';
import { PAYMENTS_CONFIG } from './payments.tokens';
import { STRIPE_CLIENT, StripeClient } from './provider-clients';

type Authed = { principal: Principal };

/** Attempts shown by GET, newest first. */
export const AUTO_TOPUP_HISTORY_LIMIT = 50;

/**
 * An organization's auto top-up: `POST setup` starts saving a card (a Stripe SetupIntent), `PUT`
 * saves it (and records the consent: when, and who by the token's subject), `GET` shows it with
 * its history, `DELETE` turns it off. A refusal changes
 * nothing: the body is read in full, and Stripe asked whose card it is, before anything is written.
 */
@ApiTags('auto top-up')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/autotopup')
export class AutoTopupController {
  constructor(
    private readonly repository: AutoTopupRepository,
    private readonly autoTopups: AutoTopups,
    private readonly billing: BillingClient,
    @Inject(PAYMENTS_CONFIG) private readonly config: PaymentsConfig,
    @Inject(STRIPE_CLIENT) private readonly stripe: StripeClient,
    @Inject(GATEWAY_CONFIG) private readonly gateway: GatewayConfig,
  ) {}

  @Post('setup')
  @HttpCode(200)
  // Each call makes a SetupIntent at Stripe (and maybe a customer): counted with the top-up starts.
  @RateLimited('topup')
  @ApiOperation({ summary: "Start saving a card for auto top-up: the organization's Stripe customer (created once, metadata.orgId) and a SetupIntent (usage off_session) for Stripe.js to confirm; then PUT with its setupIntentId" })
  async setup(@Req() req: Authed) {
    const started = await startCardSetup(this.stripe, this.repository, req.principal.orgId, this.gateway.dashboard.stripe?.publishableKey ?? null);
    if ('status' in started) throw new HttpException(started.reply, started.status);
    return { ok: true, ...started };
  }

  @Put()
  @ApiOperation({ summary: "Turn auto top-up on (or change it): when the balance falls below the trigger, one top-up to the target, within the caps, charged to the saved card" })
  @ApiBody({ schema: { example: { currency: 'USD', trigger: { amount: '50.00' }, target: '200.00', maxPerTopup: '200.00', maxPerDay: '400.00', maxPerMonth: '2000.00', setupIntentId: 'seti_123', consent: true } } })
  async save(@Req() req: Authed & { rawBody?: Buffer }, @Body() body: unknown) {
    refuseLargeBody(req);
    let request;
    try {
      request = parseAutoTopupRequest(body, this.config.limits);
    } catch (error) {
      if (error instanceof InputError) throw new HttpException(errorReply(error.code, error.message), 400);
      throw error;
    }
    const orgId = req.principal.orgId;
    const balance = await this.billing.request(orgId, 'balance');
    if (!balance.ok) throw new HttpException(balance, 503);
    const reported: unknown = balance.balance?.currency ?? null;
    const refused = currencyLockRefusal(isCurrency(reported) ? reported : null, request.currency);
    if (refused) throw new HttpException(errorReply(ErrorCode.CURRENCY_LOCKED, refused), 409);
    // Only a card Stripe says is the organization's is saved, so the charges need not ask again.
    const card = request.card.kind === 'ids' ? request.card : await cardOfSetupIntent(this.stripe, orgId, request.card.setupIntentId);
    if ('status' in card) throw new HttpException(card.reply, card.status);
    const notOurs = request.card.kind === 'ids' ? await checkPaymentMethodOwner(this.stripe, orgId, card) : null;
    if (notOurs) throw new HttpException(notOurs.reply, notOurs.status);
    const settings = await this.repository.save({
      orgId,
      trigger: request.trigger,
      target: request.target,
      currency: request.currency,
      caps: request.caps,
      stripeCustomer: card.customer,
      stripePaymentMethod: card.paymentMethod,
      consentAt: new Date(),
      consentBy: req.principal.subject ?? `org:${orgId}`,
    });
    await this.autoTopups.enabled(settings);
    return { ok: true, autoTopup: settingsView(settings) };
  }

  @Get()
  @ApiOperation({ summary: 'The auto top-up settings (null if never set) and its latest attempts, with what became of each top-up' })
  async show(@Req() req: Authed) {
    const orgId = req.principal.orgId;
    const [settings, history] = await Promise.all([this.repository.find(orgId), this.repository.history(orgId, AUTO_TOPUP_HISTORY_LIMIT)]);
    return { ok: true, autoTopup: settings && settingsView(settings), history: history.map(attemptView) };
  }

  @Delete()
  @ApiOperation({ summary: 'Turn auto top-up off (a top-up already asked for still completes)' })
  async disable(@Req() req: Authed) {
    const orgId = req.principal.orgId;
    await this.repository.disable(orgId, `turned off by ${req.principal.subject ?? `org:${orgId}`}`);
    this.autoTopups.disabled(orgId);
    const settings = await this.repository.find(orgId);
    return { ok: true, autoTopup: settings && settingsView(settings) };
  }
}

function settingsView(s: AutoTopupSettings) {
  const money = (v: Parameters<typeof toPaymentText>[0]) => toPaymentText(v, s.currency);
  return {
    enabled: s.enabled,
    currency: s.currency,
    trigger: s.trigger.kind === 'amount' ? { amount: money(s.trigger.amount) } : { runwaySeconds: s.trigger.seconds },
    target: money(s.target),
    maxPerTopup: money(s.caps.maxPerTopup),
    maxPerDay: money(s.caps.maxPerDay),
    maxPerMonth: money(s.caps.maxPerMonth),
    paymentMethod: { provider: 'stripe', customer: s.stripeCustomer, id: s.stripePaymentMethod },
    consent: { at: s.consentAt.toISOString(), by: s.consentBy },
    disabledReason: s.disabledReason,
    disabledAt: s.disabledAt?.toISOString() ?? null,
  };
}

function attemptView(a: AutoTopupAttempt) {
  return {
    id: a.id,
    crossingSeq: a.crossingSeq,
    idempotencyKey: a.idempotencyKey,
    status: a.status,
    amount: a.amount === null ? null : toPaymentText(a.amount, a.currency),
    currency: a.currency,
    reason: a.reason,
    paymentIntentId: a.paymentIntentId,
    topupStatus: a.topupStatus,
    credited: a.creditedAt !== null,
    createdAt: a.createdAt.toISOString(),
  };
}
