import { DynamicModule, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { connectNats } from '@billing/messaging';
import { natsProbe, ObservabilityModule, postgresProbe } from '@billing/observability';
import { NatsConnection } from 'nats';
import { Pool } from 'pg';
import { Counter, Gauge } from 'prom-client';
import { AuthGuard } from './auth/auth.guard';
import { GatewayConfig } from './config';
import { BalanceGateway, GatewayStats } from './live/balance.gateway';
import { GATEWAY_CONFIG, GATEWAY_NATS } from './tokens';
import { PAYMENTS_CONTROLLERS, paymentsProviders } from './payments/payments.providers';
import { BillingClient } from './wallet/billing.client';
import { WalletController } from './wallet/wallet.controller';
import { AlertWebhooksController } from './wallet/alert-webhooks.controller';
import { EDGE_PROVIDERS, edgeImports } from './edge/edge.providers';
import { OPERATOR_CONTROLLERS, operatorProviders } from './operator/operator.providers';
import { OperatorStats } from './operator/operator.guard';
import { DashboardSettingsController } from './dashboard/dashboard-settings.controller';

const GATEWAY_PG = Symbol('GatewayPostgres');

class GatewayShutdown implements OnApplicationShutdown {
  constructor(@Inject(GATEWAY_NATS) private readonly nc: NatsConnection, @Inject(GATEWAY_PG) private readonly pool: Pool) {}

  async onApplicationShutdown(): Promise<void> {
    await this.nc.drain().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}

/** HTTP API, socket.io balances and the dashboard; no money logic, everything asks the engine over NATS. */
@Module({})
export class GatewayModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    let nc: NatsConnection;
    // The gateway reads no tables; the pool exists so that /health can say whether Postgres answers.
    const pool = new Pool({ connectionString: config.databaseUrl, max: 1 });
    // PostgreSQL dropping the idle connection is what /health reports, not a reason to crash (an unhandled 'error' event would).
    pool.on('error', () => undefined);
    const stats = new GatewayStats();
    const operatorStats = new OperatorStats();
    return {
      module: GatewayModule,
      imports: [
        ObservabilityModule.forRoot({
          service: 'gateway',
          healthDetailsToken: config.healthDetailsToken,
          probes: { nats: natsProbe(() => nc), postgres: async () => postgresProbe((sql) => pool.query(sql))() },
          metrics: (registry) => {
            new Gauge({ name: 'gateway_sockets', help: 'Connected socket.io clients', registers: [registry], collect() { this.set(stats.sockets); } });
            new Counter({ name: 'gateway_balance_pushes_total', help: 'Balance snapshots pushed to organization rooms (after coalescing)', registers: [registry], collect() { this.reset(); this.inc(stats.pushes); } });
            new Counter({ name: 'gateway_balance_events_total', help: 'Balance events received from NATS', registers: [registry], collect() { this.reset(); this.inc(stats.events); } });
            new Counter({ name: 'gateway_balance_events_refused_total', help: 'Balance events not pushed: unreadable, or naming another organization than their subject', registers: [registry], collect() { this.reset(); this.inc(stats.refused); } });
            new Counter({ name: 'gateway_operator_refusals_total', help: 'Operator routes refused before the engine: no or an invalid operator token (unauthenticated), an organization token (forbidden)', labelNames: ['reason'], registers: [registry], collect() { this.reset(); this.inc({ reason: 'unauthenticated' }, operatorStats.unauthenticated); this.inc({ reason: 'forbidden' }, operatorStats.forbidden); } });
          },
        }),
        ...edgeImports(config.edge),
      ],
      controllers: [WalletController, AlertWebhooksController, ...OPERATOR_CONTROLLERS, ...PAYMENTS_CONTROLLERS, DashboardSettingsController],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: GATEWAY_NATS, useFactory: async () => (nc = await connectNats(config.natsUrl, 'billing-gateway', config.nats)) },
        { provide: GATEWAY_PG, useValue: pool },
        BillingClient,
        AuthGuard,
        { provide: GatewayStats, useValue: stats },
        BalanceGateway,
        GatewayShutdown,
        ...paymentsProviders(config),
        ...EDGE_PROVIDERS,
        ...operatorProviders(config, operatorStats),
      ],
    };
  }
}
