import { BeforeApplicationShutdown, DynamicModule, Inject, Injectable, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ErrorCode, errorReply, Subjects } from '@billing/contracts';
import { connectNats, eventsStreamSpec, JetStreamPublisher, NatsJsonTransport, OutboxRelay } from '@billing/messaging';
import { natsProbe, ObservabilityModule, postgresProbe } from '@billing/observability';
import { BillingMetrics } from './billing.metrics';
import { openDatabase, OperatorAuditRepository, OutboxRepository, PartitionEpochRepository, PriceVersionRepository, PlanRepository, RejectedLifecycleRepository, ResourceRepository, VoucherRepository, WalletRepository } from '@billing/persistence';
import { PlanService } from './plans/plan.service';
import { VoucherService } from './vouchers/voucher.service';
import { MikroORM } from '@mikro-orm/postgresql';
import { NatsConnection } from 'nats';
import { BillingConfig } from './config';
import { CONFIG, NATS, ROUTES } from './tokens';
import { LifecycleConsumer } from './resources/lifecycle.consumer';
import { MeterTicker } from './resources/meter.ticker';
import { PriceCatalog } from './resources/price-catalog';
import { ResourceService } from './resources/resource.service';
import { ExpirySweeper } from './wallet/expiry.sweeper';
import { WalletController } from './wallet/wallet.controller';
import { WalletRequests } from './wallet/wallet-requests';
import { NodeController } from './ownership/node.controller';
import { WalletService } from './wallet/wallet.service';
import { Ownership } from './ownership/ownership.service';
import { Peers } from './ownership/peers';
import { OperatorAudit } from './operators/operator-audit';

/** Starts listening once everything is wired, and stops in the reverse order of the data flow. */
@Injectable()
class BillingLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Billing');

  constructor(
    @Inject(CONFIG) private readonly config: BillingConfig,
    @Inject(NATS) private readonly nc: NatsConnection,
    private readonly orm: MikroORM,
    private readonly relay: OutboxRelay,
    private readonly wallets: WalletService,
    private readonly transport: NatsJsonTransport,
    private readonly resources: ResourceService,
    private readonly lifecycle: LifecycleConsumer,
    private readonly ticker: MeterTicker,
    private readonly expiry: ExpirySweeper,
    private readonly vouchers: VoucherService,
    private readonly plans: PlanService,
    private readonly ownership: Ownership,
    private readonly peers: Peers,
    private readonly prices: PriceCatalog,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.peers.refuseDuplicateNode();
    // Its peers reach it (and see it is alive) before it takes any partition.
    this.transport.open(ROUTES.node);
    // Resources first: they stop metering into the wallets, which then finish what they hold.
    const drop = async (partitions: readonly number[]) => {
      const matches = this.ownership.matcher(partitions);
      await this.resources.retire(matches);
      await this.wallets.retire(matches);
    };
    // Serves no organization until it holds their partitions' leases; starts once it holds its share.
    await this.ownership.start({
      gained: async (partitions) => {
        // Anything left in memory from an earlier time here is stale now: reload from the database.
        await drop(partitions);
        const resumed = await this.resources.resume({ count: this.config.partitions, owned: partitions });
        this.logger.log({ msg: 'partitions loaded', partitions: partitions.length, resumedResources: resumed });
      },
      lost: drop,
    });
    this.transport.open(ROUTES.wallet, ROUTES.admin);
    await this.lifecycle.start();
    this.prices.start();
    this.ticker.start();
    this.expiry.start();
    this.vouchers.start();
    this.plans.start();
    this.logger.log({ msg: 'billing engine listening', node: this.config.nodeId, partitionsServed: this.ownership.serving, prefix: this.config.subjectPrefix, stream: this.config.eventsStream, lifecycleStream: this.config.lifecycleStream });
  }

  /** Before Nest closes the transport: takes no new request, hands its partitions over while its peers can still reach it. */
  async beforeApplicationShutdown(): Promise<void> {
    this.ticker.stop();
    this.prices.stop();
    this.expiry.stop();
    this.vouchers.stop();
    this.plans.stop();
    await this.lifecycle.stop().catch(() => undefined);
    await this.transport.close(ROUTES.wallet, ROUTES.admin);
    // Hands every partition over once its work in hand is committed, so another process takes it at once.
    await this.ownership.stop().catch((error) => this.logger.warn({ msg: 'partitions not handed over; their leases expire instead', error: String(error) }));
    await this.transport.close(ROUTES.node);
  }

  async onApplicationShutdown(): Promise<void> {
    this.resources.close();
    this.wallets.close();
    await this.relay.stop();
    await this.nc.drain().catch(() => undefined);
    await this.orm.close(true);
  }
}

@Module({})
export class BillingModule {
  static forRoot(config: BillingConfig): DynamicModule {
    const metrics = new BillingMetrics();
    let nc: NatsConnection | undefined;
    let orm: MikroORM | undefined;
    let wallets: WalletService | undefined;
    let resources: ResourceService | undefined;
    let relay: OutboxRelay | undefined;
    let ownership: Ownership | undefined;
    const fenceScope = { group: config.ownersBucket, partitions: config.partitions };
    return {
      module: BillingModule,
      imports: [
        ObservabilityModule.forRoot({
          service: 'billing',
          healthDetailsToken: config.healthDetailsToken,
          probes: {
            nats: natsProbe(() => nc!),
            postgres: postgresProbe((sql) => orm!.em.getConnection().getKnex().raw(sql)),
          },
          metrics: (registry) =>
            metrics.register(registry, {
              mailboxDepth: () => wallets?.registry.depth ?? 0,
              activeWallets: () => wallets?.registry.size ?? 0,
              billableResources: () => resources?.billable ?? 0,
              published: () => relay?.published ?? 0,
              partitionsServed: () => ownership?.serving ?? 0,
            }),
        }),
      ],
      controllers: [WalletController, NodeController],
      providers: [
        { provide: BillingMetrics, useValue: metrics },
        {
          provide: NatsJsonTransport,
          inject: [NATS, Subjects],
          useFactory: (nc: NatsConnection, subjects: Subjects) =>
            new NatsJsonTransport(
              nc,
              {
                [ROUTES.wallet]: { subject: subjects.walletWildcard(), queue: config.queueGroup },
                [ROUTES.admin]: { subject: subjects.admin('>'), queue: config.queueGroup },
                [ROUTES.node]: { subject: subjects.node(config.nodeId, '>') },
              },
              () => errorReply(ErrorCode.INTERNAL, 'internal error'),
            ),
        },
        { provide: CONFIG, useValue: config },
        { provide: Subjects, useValue: new Subjects(config.subjectPrefix) },
        { provide: MikroORM, useFactory: async () => (orm = await openDatabase(config.databaseUrl, config.dbPoolMax)) },
        { provide: NATS, useFactory: async () => (nc = await connectNats(config.natsUrl, 'billing-engine', config.nats)) },
        { provide: WalletRepository, inject: [MikroORM], useFactory: (orm: MikroORM) => new WalletRepository(orm, fenceScope) },
        { provide: PartitionEpochRepository, inject: [MikroORM], useFactory: (orm: MikroORM) => new PartitionEpochRepository(orm, fenceScope) },
        { provide: OutboxRepository, inject: [MikroORM, Ownership], useFactory: (orm: MikroORM, ownership: Ownership) => new OutboxRepository(orm, () => ownership.owned()) },
        {
          provide: OutboxRelay,
          inject: [NATS, OutboxRepository],
          useFactory: async (nc: NatsConnection, outbox: OutboxRepository) => {
            const logger = new Logger('OutboxRelay');
            relay = new OutboxRelay(new JetStreamPublisher(nc), await nc.jetstreamManager(), outbox, {
              stream: eventsStreamSpec(config.eventsStream, config.subjectPrefix, config.jetStreamReplicas),
              sweepIntervalMs: config.outboxSweepIntervalMs,
              sweepBatch: 1000,
              onError: (error) => logger.warn({ msg: 'event not published yet; it stays in the outbox', error: String((error as Error)?.message ?? error) }),
            });
            await relay.start();
            return relay;
          },
        },
        { provide: ResourceRepository, inject: [MikroORM], useFactory: (orm: MikroORM) => new ResourceRepository(orm, fenceScope) },
        { provide: RejectedLifecycleRepository, inject: [MikroORM], useFactory: (orm: MikroORM) => new RejectedLifecycleRepository(orm) },
        { provide: VoucherRepository, inject: [MikroORM], useFactory: (orm: MikroORM) => new VoucherRepository(orm) },
        VoucherService,
        { provide: PlanRepository, inject: [MikroORM], useFactory: (orm: MikroORM) => new PlanRepository(orm) },
        PlanService,
        { provide: PriceCatalog, inject: [MikroORM], useFactory: (orm: MikroORM) => PriceCatalog.open(config.priceCatalogPath, new PriceVersionRepository(orm), config.priceChangeNoticeMs) },
        { provide: Ownership, inject: [CONFIG, NATS, Subjects, BillingMetrics, PartitionEpochRepository], useFactory: (...deps: ConstructorParameters<typeof Ownership>) => (ownership = new Ownership(...deps)) },
        { provide: WalletService, inject: [CONFIG, WalletRepository, OutboxRelay, Subjects, PriceCatalog, ResourceRepository, BillingMetrics, Ownership], useFactory: (...deps: ConstructorParameters<typeof WalletService>) => (wallets = new WalletService(...deps)) },
        { provide: OperatorAuditRepository, inject: [MikroORM], useFactory: (orm: MikroORM) => new OperatorAuditRepository(orm) },
        OperatorAudit,
        WalletRequests,
        { provide: ResourceService, inject: [CONFIG, ResourceRepository, WalletService, Ownership, PriceCatalog], useFactory: (...deps: ConstructorParameters<typeof ResourceService>) => (resources = new ResourceService(...deps)) },
        Peers,
        LifecycleConsumer,
        MeterTicker,
        ExpirySweeper,
        BillingLifecycle,
      ],
      exports: [WalletService, ResourceService, LifecycleConsumer, OutboxRelay, MikroORM, NATS, NatsJsonTransport],
    };
  }
}
