import { Provider, Type } from '@nestjs/common';
import { openDatabase, TopupRepository } from '@billing/persistence';
import { MikroORM } from '@mikro-orm/postgresql';
import { GatewayConfig } from '../config';
import { PaymentWebhooksController } from './payment-webhooks.controller';
import { loadPaymentsConfig, PaymentsConfig } from './payments.config';
import { PaymentsService } from './payments.service';
import { PaymentsSweeper } from './payments.sweeper';
import { PAYMENTS_CONFIG, PAYMENTS_ORM } from './payments.tokens';
import { OfflinePayPalClient, OfflineStripeClient, PAYPAL_CLIENT, STRIPE_CLIENT } from './provider-clients';
import { TopupsController } from './topups.controller';

export const PAYMENTS_CONTROLLERS: Type[] = [TopupsController, PaymentWebhooksController];

/**
 * The top-up providers, spread into the gateway module (they use its BillingClient). The
 * gateway opens the database for the top-up intents; migrations run under the advisory lock,
 * so it may start before or with the engine.
 */
export function paymentsProviders(gateway: GatewayConfig, config: PaymentsConfig = loadPaymentsConfig()): Provider[] {
  return [
    { provide: PAYMENTS_CONFIG, useValue: config },
    { provide: PAYMENTS_ORM, useFactory: () => openDatabase(gateway.databaseUrl, config.dbPoolMax) },
    { provide: TopupRepository, inject: [PAYMENTS_ORM], useFactory: (orm: MikroORM) => new TopupRepository(orm) },
    { provide: STRIPE_CLIENT, useClass: OfflineStripeClient },
    { provide: PAYPAL_CLIENT, useClass: OfflinePayPalClient },
    PaymentsService,
    PaymentsSweeper,
  ];
}
