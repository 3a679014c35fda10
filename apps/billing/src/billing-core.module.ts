import { DynamicModule, Global, Module } from '@nestjs/common';
import { ErrorCode, errorReply, Subjects } from '@billing/contracts';
import { connectNats, NatsJsonTransport } from '@billing/messaging';
import { natsProbe, ObservabilityModule, postgresProbe } from '@billing/observability';
import { openDatabase, OperatorAuditRepository, Shards, PartitionEpochRepository, PlanRepository, PriceVersionRepository, RejectedLifecycleRepository, ResourceRepository, VoucherRepository, WalletRepository, WorkspaceBudgetRepository } from '@billing/persistence';
import { MikroORM } from '@mikro-orm/postgresql';
import { NatsConnection } from 'nats';
import { BillingMetrics } from './billing.metrics';
import { BillingConfig } from './config';
import { ShardMapStatus } from './ownership/shard-map-guard';
import { PriceCatalog } from './resources/price-catalog';
import { CONFIG, NATS, ROUTES } from './tokens';

/**
 * What every feature module of the engine stands on: its settings, the one NATS connection and its
 * request transport, the database and its repositories (each write fenced by the partition
 * epoch), the price catalog, the metrics, and /health and /metrics.
 */
@Global()
@Module({})
export class BillingCoreModule {
  static forRoot(config: BillingConfig, metrics: BillingMetrics): DynamicModule {
    let nc: NatsConnection | undefined;
    let orm: MikroORM | undefined;
    const fenceScope = { group: config.ownersBucket, partitions: config.partitions };
    const shardMapStatus = new ShardMapStatus();
    const fromOrm = <T>(make: (orm: MikroORM) => T) => ({ inject: [MikroORM], useFactory: make });
    // Per-organization tables: in the organization's shard (one place decides which: Shards).
    const fromShards = <T>(make: (shards: Shards) => T) => ({ inject: [Shards], useFactory: make });
    const providers = [
      { provide: CONFIG, useValue: config },
      { provide: BillingMetrics, useValue: metrics },
      { provide: ShardMapStatus, useValue: shardMapStatus },
      { provide: Subjects, useValue: new Subjects(config.subjectPrefix) },
      { provide: NATS, useFactory: async () => (nc = await connectNats(config.natsUrl, 'billing-engine', config.nats)) },
      { provide: MikroORM, useFactory: async () => (orm = await openDatabase(config.databaseUrl, config.dbPoolMax)) },
      {
        // Each shard is opened and migrated when first used: when this process takes one of its partitions.
        provide: Shards,
        inject: [MikroORM],
        useFactory: (home: MikroORM) => new Shards(config.shards, { url: config.databaseUrl, orm: home }, (url) => openDatabase(url, config.dbPoolMax)),
      },
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
      { provide: WalletRepository, ...fromShards((shards) => new WalletRepository(shards, fenceScope)) },
      { provide: PartitionEpochRepository, ...fromShards((shards) => new PartitionEpochRepository(shards, fenceScope)) },
      { provide: ResourceRepository, ...fromShards((shards) => new ResourceRepository(shards, fenceScope)) },
      { provide: RejectedLifecycleRepository, inject: [MikroORM, Shards], useFactory: (home: MikroORM, shards: Shards) => new RejectedLifecycleRepository(home, shards) },
      { provide: WorkspaceBudgetRepository, ...fromShards((shards) => new WorkspaceBudgetRepository(shards)) },
      // Global: voucher codes and their counters, plan subscriptions, the operator audit, price versions.
      { provide: VoucherRepository, ...fromOrm((orm) => new VoucherRepository(orm)) },
      { provide: PlanRepository, ...fromOrm((orm) => new PlanRepository(orm)) },
      { provide: OperatorAuditRepository, ...fromOrm((orm) => new OperatorAuditRepository(orm)) },
      { provide: PriceCatalog, ...fromOrm((orm) => PriceCatalog.open(config.priceCatalogPath, new PriceVersionRepository(orm), config.priceChangeNoticeMs)) },
    ];
    return {
      module: BillingCoreModule,
      imports: [
        ObservabilityModule.forRoot({
          service: 'billing',
          healthDetailsToken: config.healthDetailsToken,
          probes: {
            nats: natsProbe(() => nc!),
            postgres: postgresProbe((sql) => orm!.em.getConnection().getKnex().raw(sql)),
            // Down while this process's SHARDS/SHARD_MAP differ from the engine processes' (it takes no partition).
            shardMap: async () => {
              if (shardMapStatus.refused) throw new Error(shardMapStatus.refused);
            },
          },
          metrics: (registry) => metrics.register(registry),
        }),
      ],
      providers,
      exports: providers.map((p) => p.provide),
    };
  }
}
