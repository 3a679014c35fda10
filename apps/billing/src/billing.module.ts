import { BeforeApplicationShutdown, DynamicModule, Inject, Injectable, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { NatsJsonTransport, OutboxRelay } from '@billing/messaging';
import { MikroORM } from '@mikro-orm/postgresql';
import { Shards } from '@billing/persistence';
import { NatsConnection } from 'nats';
import { BillingCoreModule } from './billing-core.module';
import { BillingMetrics } from './billing.metrics';
import { BillingConfig } from './config';
import { NodeController } from './ownership/node.controller';
import { OwnershipModule } from './ownership/ownership.module';
import { Ownership } from './ownership/ownership.service';
import { Peers } from './ownership/peers';
import { PlanService } from './plans/plan.service';
import { LifecycleConsumer } from './resources/lifecycle.consumer';
import { MeterTicker } from './resources/meter.ticker';
import { PriceCatalog } from './resources/price-catalog';
import { ResourceService } from './resources/resource.service';
import { ResourcesModule } from './resources/resources.module';
import { StopRepeater } from './resources/stop.repeater';
import { CONFIG, NATS, ROUTES } from './tokens';
import { VoucherService } from './vouchers/voucher.service';
import { ExpirySweeper } from './wallet/expiry.sweeper';
import { WalletModule } from './wallet/wallet.module';
import { WalletService } from './wallet/wallet.service';

/** Starts listening once everything is wired, and stops in the reverse order of the data flow. */
@Injectable()
class BillingLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Billing');

  constructor(
    @Inject(CONFIG) private readonly config: BillingConfig,
    @Inject(NATS) private readonly nc: NatsConnection,
    private readonly orm: MikroORM,
    private readonly shards: Shards,
    private readonly relay: OutboxRelay,
    private readonly wallets: WalletService,
    private readonly transport: NatsJsonTransport,
    private readonly resources: ResourceService,
    private readonly lifecycle: LifecycleConsumer,
    private readonly ticker: MeterTicker,
    private readonly stopRepeater: StopRepeater,
    private readonly expiry: ExpirySweeper,
    private readonly vouchers: VoucherService,
    private readonly plans: PlanService,
    private readonly ownership: Ownership,
    private readonly peers: Peers,
    private readonly prices: PriceCatalog,
    metrics: BillingMetrics,
  ) {
    metrics.observe({
      mailboxDepth: () => wallets.registry.depth,
      activeWallets: () => wallets.registry.size,
      billableResources: () => resources.billable,
      published: () => relay.published,
      partitionsServed: () => ownership.serving,
    });
  }

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
    this.stopRepeater.start();
    this.expiry.start();
    this.vouchers.start();
    this.plans.start();
    this.logger.log({ msg: 'billing engine listening', node: this.config.nodeId, partitionsServed: this.ownership.serving, prefix: this.config.subjectPrefix, stream: this.config.eventsStream, lifecycleStream: this.config.lifecycleStream });
  }

  /** Before Nest closes the transport: takes no new request, hands its partitions over while its peers can still reach it. */
  async beforeApplicationShutdown(): Promise<void> {
    this.ticker.stop();
    this.stopRepeater.stop();
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
    await this.shards.close();
    await this.orm.close(true);
  }
}

/**
 * The engine: its feature modules (ownership, wallets, resources) on the core (settings, NATS,
 * database, metrics), the peers' controller, and the start-up and shutdown order.
 */
@Module({})
export class BillingModule {
  static forRoot(config: BillingConfig): DynamicModule {
    return {
      module: BillingModule,
      imports: [BillingCoreModule.forRoot(config, new BillingMetrics()), OwnershipModule, WalletModule, ResourcesModule],
      controllers: [NodeController],
      providers: [BillingLifecycle],
      exports: [WalletModule, ResourcesModule],
    };
  }
}
