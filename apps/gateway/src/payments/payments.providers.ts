import { Injectable, OnApplicationShutdown, Provider, Type } from '@nestjs/common';
import { AutoTopupRepository, openDatabase, OperatorAuditRepository, Shards, TopupReconciliationRepository, TopupRefundRepository, TopupReportRepository, TopupRepository } from '@billing/persistence';
import { MikroORM } from '@mikro-orm/postgresql';
import { GatewayConfig } from '../config';
import { AutoTopupController } from './auto-topup.controller';
import { AutoTopups } from './auto-topups';
import { PaymentWebhooksController } from './payment-webhooks.controller';
import { PaymentsConfig } from './payments.config';
import { PaymentsSweeper } from './payments.sweeper';
import { PaymentsMetrics } from './payments.metrics';
import { PaymentProviderLookup, PaymentsReconciler } from './payments.reconciler';
import { PaymentMismatchReport } from './payment-mismatch-report';
import { PaymentRefunds } from './payment-refunds';
import { PAYMENTS_CONFIG, PAYMENTS_ORM } from './payments.tokens';
import { OfflinePayPalClient, OfflineStripeClient, OfflineVnpayClient, PAYPAL_CLIENT, PayPalClient, STRIPE_CLIENT, VNPAY_CLIENT } from './provider-clients';
import { TopupsController } from './topups.controller';
import { TopupSettlement } from './topup-settlement';
import { TopupStarter } from './topup-starter';
import { PaymentWebhooks } from './payment-webhooks';
import { PaypalApprovals } from './paypal-approvals';
import { PayPalApiClient } from './paypal-client';
import { PaypalReturnController } from './paypal-return.controller';
import { ApiPaypalWebhookVerifier, LocalPaypalWebhookVerifier, PAYPAL_WEBHOOK_VERIFIER } from './paypal-webhook-verifier';
import { StripeApiClient } from './stripe-client';
import { VnpayApiClient } from './vnpay-api';
import { TopupStatusController } from './topup-status.controller';
import { VnpayReturnController } from './vnpay-return.controller';

export const PAYMENTS_CONTROLLERS: Type[] = [TopupsController, TopupStatusController, AutoTopupController, PaymentWebhooksController, PaypalReturnController, VnpayReturnController];

/**
 * The providers' API clients: the real ones (the `stripe` SDK; PayPal and VNPAY over HTTPS) at
 * the configured base URLs, or, with PAYMENT_PROVIDERS=offline only, ones that call nothing.
 */
export function paymentClientProviders(config: PaymentsConfig): Provider[] {
  if (config.providers === 'offline') {
    return [
      { provide: STRIPE_CLIENT, useClass: OfflineStripeClient },
      { provide: PAYPAL_CLIENT, useClass: OfflinePayPalClient },
      { provide: VNPAY_CLIENT, useClass: OfflineVnpayClient },
    ];
  }
  const policy = config.calls;
  return [
    { provide: STRIPE_CLIENT, useFactory: () => new StripeApiClient({ secretKey: config.stripe.secretKey, apiBaseUrl: config.stripe.apiBaseUrl, policy }) },
    { provide: PAYPAL_CLIENT, useFactory: () => new PayPalApiClient({ ...config.paypal, policy }) },
    { provide: VNPAY_CLIENT, useFactory: () => new VnpayApiClient({ ...config.vnpay, policy }) },
  ];
}

/** Pools the mismatch report opens to read each organization's ledger in its shard (two connections each: the report reads, nothing else). */
const SHARD_POOL_MAX = 2;

/** Closes the shards' pools the report opened (the home's is the sweeper's to close). */
@Injectable()
class PaymentShardsShutdown implements OnApplicationShutdown {
  constructor(private readonly shards: Shards) {}

  async onApplicationShutdown(): Promise<void> {
    await this.shards.close();
  }
}

/**
 * The top-up providers, spread into the gateway module (they use its BillingClient). The
 * gateway opens the database for the top-up intents; migrations run under the advisory lock,
 * so it may start before or with the engine.
 */
export function paymentsProviders(gateway: GatewayConfig, config: PaymentsConfig = gateway.payments): Provider[] {
  return [
    { provide: PAYMENTS_CONFIG, useValue: config },
    { provide: PAYMENTS_ORM, useFactory: () => openDatabase(gateway.databaseUrl, config.dbPoolMax) },
    { provide: TopupRepository, inject: [PAYMENTS_ORM], useFactory: (orm: MikroORM) => new TopupRepository(orm) },
    { provide: TopupReconciliationRepository, inject: [PAYMENTS_ORM], useFactory: (orm: MikroORM) => new TopupReconciliationRepository(orm) },
    // Where each organization's ledger is (PARTITIONS, SHARDS, SHARD_MAP as the engine's): the
    // engine's resolver, a shard's pool opened when the report first reads it.
    {
      provide: Shards,
      inject: [PAYMENTS_ORM],
      useFactory: (home: MikroORM) => new Shards(gateway.sharding.shards, { url: gateway.databaseUrl, orm: home }, (url) => openDatabase(url, SHARD_POOL_MAX)),
    },
    PaymentShardsShutdown,
    { provide: TopupReportRepository, inject: [PAYMENTS_ORM, Shards], useFactory: (orm: MikroORM, shards: Shards) => new TopupReportRepository(orm, shards) },
    { provide: TopupRefundRepository, inject: [PAYMENTS_ORM], useFactory: (orm: MikroORM) => new TopupRefundRepository(orm) },
    { provide: AutoTopupRepository, inject: [PAYMENTS_ORM], useFactory: (orm: MikroORM) => new AutoTopupRepository(orm) },
    // Operator refunds are done here, so they are audited here, in the operators' audit.
    { provide: OperatorAuditRepository, inject: [PAYMENTS_ORM], useFactory: (orm: MikroORM) => new OperatorAuditRepository(orm) },
    ...paymentClientProviders(config),
    {
      provide: PAYPAL_WEBHOOK_VERIFIER,
      inject: [PAYPAL_CLIENT],
      useFactory: (paypal: PayPalClient) =>
        config.paypal.webhookVerification === 'api' ? new ApiPaypalWebhookVerifier(config.paypal.webhookId, paypal) : new LocalPaypalWebhookVerifier(config.paypal.webhookId, config.paypal.certificates),
    },
    PaypalApprovals,
    TopupStarter,
    TopupSettlement,
    PaymentWebhooks,
    PaymentsSweeper,
    PaymentsMetrics,
    PaymentProviderLookup,
    PaymentsReconciler,
    PaymentMismatchReport,
    PaymentRefunds,
    AutoTopups,
  ];
}
