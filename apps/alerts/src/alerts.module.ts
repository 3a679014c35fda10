import { BeforeApplicationShutdown, DynamicModule, Inject, Injectable, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ErrorCode, errorReply } from '@billing/contracts';
import { connectNats, NatsJsonTransport } from '@billing/messaging';
import { natsProbe, ObservabilityModule, postgresProbe } from '@billing/observability';
import { openDatabase, WebhookRepository } from '@billing/persistence';
import { MikroORM } from '@mikro-orm/postgresql';
import { NatsConnection } from 'nats';
import { AlertConsumer } from './alert-consumer';
import { AlertsConfig } from './alerts.config';
import { AlertsMetrics } from './alerts.metrics';
import { SecretBox } from './secret-box';
import { ALERTS_CONFIG, ALERTS_NATS, WEBHOOKS_ROUTE } from './tokens';
import { WebhookAddressPolicy } from './webhook-address-policy';
import { WebhookDispatcher } from './webhook-dispatcher';
import { GuardedPoster, guardedPoster } from './webhook-poster';
import { WebhookSecrets } from './webhook-secrets';
import { SealedWebhookStore } from './webhook-store';
import { WebhookResolver, WebhookTargetGuard } from './webhook-target-guard';
import { webhookCommandWildcard } from './webhook-commands';
import { WebhooksController } from './webhooks.controller';

/** What a test may put in place of the real thing. */
export interface AlertsOverrides {
  /** DNS for webhook hosts, at registration and at every delivery (default: the system resolver). */
  readonly resolve?: WebhookResolver;
}

/** The HTTP client of the deliveries, closed at shutdown (keep-alive connections). */
const WEBHOOK_POSTER = Symbol('GuardedPoster');

/** Starts listening once everything is wired; stops taking work first, then lets what is under way finish. */
@Injectable()
class AlertsLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Alerts');

  constructor(
    @Inject(ALERTS_CONFIG) private readonly config: AlertsConfig,
    @Inject(ALERTS_NATS) private readonly nc: NatsConnection,
    private readonly orm: MikroORM,
    private readonly transport: NatsJsonTransport,
    private readonly consumer: AlertConsumer,
    private readonly secrets: WebhookSecrets,
    @Inject(WEBHOOK_POSTER) private readonly poster: GuardedPoster,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const warning of this.config.webhookSecurity.warnings) this.logger.warn({ msg: warning });
    // Before any delivery: every key in use is configured, and no secret is left in plain text.
    await this.secrets.prepare(this.logger);
    this.transport.open(WEBHOOKS_ROUTE);
    await this.consumer.start();
    this.logger.log({ msg: 'alert service listening', prefix: this.config.subjectPrefix, stream: this.config.eventsStream, consumer: this.config.consumerName });
  }

  /** Before Nest closes the transport (and so before onApplicationShutdown): no new webhook settings request. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.transport.close(WEBHOOKS_ROUTE);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer.stop().catch(() => undefined);
    // Drain flushes the acknowledgements of the last events before closing.
    await this.nc.drain().catch(() => undefined);
    this.poster.close();
    await this.orm.close(true);
  }
}

@Module({})
export class AlertsModule {
  static forRoot(config: AlertsConfig, overrides: AlertsOverrides = {}): DynamicModule {
    const security = config.webhookSecurity;
    const guard = new WebhookTargetGuard({
      httpsOnly: security.production,
      policy: new WebhookAddressPolicy({ allowCidrs: security.allowCidrs, allowHosts: security.allowHosts }),
      resolve: overrides.resolve,
    });
    const box = new SecretBox(security.secretKeys, security.activeSecretKeyId);
    const metrics = new AlertsMetrics();
    let nc: NatsConnection | undefined;
    let orm: MikroORM | undefined;
    let consumer: AlertConsumer | undefined;
    return {
      module: AlertsModule,
      imports: [
        ObservabilityModule.forRoot({
          service: 'alerts',
          healthDetailsToken: config.healthDetailsToken,
          probes: {
            nats: natsProbe(() => nc!),
            postgres: postgresProbe((sql) => orm!.em.getConnection().getKnex().raw(sql)),
          },
          metrics: (registry) =>
            metrics.register(registry, {
              eventsInFlight: () => consumer?.inFlightCount ?? 0,
              consumerPosition: async () => (consumer ? consumer.position() : null),
            }),
        }),
      ],
      controllers: [WebhooksController],
      providers: [
        { provide: AlertsMetrics, useValue: metrics },
        { provide: ALERTS_CONFIG, useValue: config },
        { provide: MikroORM, useFactory: async () => (orm = await openDatabase(config.databaseUrl, config.dbPoolMax)) },
        { provide: ALERTS_NATS, useFactory: async () => (nc = await connectNats(config.natsUrl, 'billing-alerts', config.nats)) },
        { provide: WebhookRepository, inject: [MikroORM], useFactory: (orm: MikroORM) => new WebhookRepository(orm) },
        { provide: WebhookTargetGuard, useValue: guard },
        { provide: WebhookSecrets, inject: [WebhookRepository], useFactory: (webhooks: WebhookRepository) => new WebhookSecrets(box, webhooks) },
        { provide: WEBHOOK_POSTER, useFactory: () => guardedPoster(guard) },
        {
          provide: WebhookDispatcher,
          inject: [WebhookRepository, WebhookSecrets, WEBHOOK_POSTER],
          useFactory: (webhooks: WebhookRepository, secrets: WebhookSecrets, poster: GuardedPoster) =>
            new WebhookDispatcher(new SealedWebhookStore(webhooks, secrets), {
              retry: config.retry,
              requestTimeoutMs: config.requestTimeoutMs,
              post: poster.post,
              log: new Logger('WebhookDispatcher'),
              observe: metrics.webhookAttempted,
            }),
        },
        {
          provide: NatsJsonTransport,
          inject: [ALERTS_NATS],
          useFactory: (nc: NatsConnection) =>
            new NatsJsonTransport(nc, { [WEBHOOKS_ROUTE]: { subject: webhookCommandWildcard(config.subjectPrefix), queue: config.queueGroup } }, () => errorReply(ErrorCode.INTERNAL, 'internal error')),
        },
        { provide: AlertConsumer, inject: [ALERTS_CONFIG, ALERTS_NATS, WebhookDispatcher, AlertsMetrics], useFactory: (...deps: ConstructorParameters<typeof AlertConsumer>) => (consumer = new AlertConsumer(...deps)) },
        AlertsLifecycle,
      ],
      exports: [AlertConsumer, WebhookRepository, MikroORM, ALERTS_NATS, NatsJsonTransport],
    };
  }
}
