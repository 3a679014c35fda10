import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { CURRENCIES, minorUnits } from '@billing/domain';
import { TOPUP_PROVIDERS } from '@billing/persistence';
import { GatewayConfig } from '../config';
import { PROVIDER_CURRENCIES } from '../payments/topup-request';
import { GATEWAY_CONFIG } from '../tokens';

/**
 * What the dashboard page needs before it has a token, or without one: which providers take
 * which currencies, whether card payments can be offered here (Stripe's publishable key and the
 * Stripe.js URL, both public by design), each currency's decimals, and where the portal gives a
 * new token. Nothing here is a secret and nothing depends on who asks, so it takes no token: the
 * page that comes back from a provider has none.
 */
@ApiExcludeController()
@Controller('dashboard')
export class DashboardSettingsController {
  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  @Get('settings')
  @Header('Cache-Control', 'no-store')
  settings() {
    const stripe = this.config.dashboard.stripe;
    return {
      providers: TOPUP_PROVIDERS.map((id) => ({
        id,
        currencies: PROVIDER_CURRENCIES[id],
        ...(id === 'stripe' ? { card: stripe ? { publishableKey: stripe.publishableKey, jsUrl: stripe.jsUrl } : null } : {}),
      })),
      currencies: Object.fromEntries(CURRENCIES.map((c) => [c, { decimals: minorUnits(c) }])),
      signInUrl: this.config.dashboard.signInUrl,
    };
  }
}
