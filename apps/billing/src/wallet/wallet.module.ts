import { Logger, Module } from '@nestjs/common';
import { controlStreamSpec, ensureStream, eventsStreamSpec, JetStreamPublisher, OutboxRelay, withJetStreamPatience } from '@billing/messaging';
import { OutboxRepository, Shards } from '@billing/persistence';
import { NatsConnection } from 'nats';
import { BillingConfig } from '../config';
import { OperatorAudit } from '../operators/operator-audit';
import { OwnershipModule } from '../ownership/ownership.module';
import { Ownership } from '../ownership/ownership.service';
import { PlanService } from '../plans/plan.service';
import { CONFIG, NATS } from '../tokens';
import { VoucherService } from '../vouchers/voucher.service';
import { ExpirySweeper } from './expiry.sweeper';
import { WalletController } from './wallet.controller';
import { WalletRequests } from './wallet-requests';
import { WalletService } from './wallet.service';

/**
 * The wallets: one actor per organization deciding money, their requests from clients and
 * operators (with the audit), voucher codes, plans, grant expiry, and the outbox relay that
 * publishes what their commits wrote.
 */
@Module({
  imports: [OwnershipModule],
  controllers: [WalletController],
  providers: [
    {
      provide: OutboxRepository,
      inject: [Shards, Ownership],
      useFactory: (shards: Shards, ownership: Ownership) => {
        const logger = new Logger('OutboxRelay');
        return new OutboxRepository(shards, () => ownership.owned(), (shard, error) => logger.warn({ msg: 'outbox of a shard not read; its events wait there', shard, error: String((error as Error)?.message ?? error) }));
      },
    },
    {
      provide: OutboxRelay,
      inject: [CONFIG, NATS, OutboxRepository],
      useFactory: async (config: BillingConfig, nc: NatsConnection, outbox: OutboxRepository) => {
        const logger = new Logger('OutboxRelay');
        const jsm = await withJetStreamPatience(() => nc.jetstreamManager());
        // The outbox carries stop commands too: their stream exists before the relay publishes any.
        await ensureStream(jsm, controlStreamSpec(config.controlStream, config.subjectPrefix, config.jetStreamReplicas));
        const relay = new OutboxRelay(new JetStreamPublisher(nc), jsm, outbox, {
          stream: eventsStreamSpec(config.eventsStream, config.subjectPrefix, config.jetStreamReplicas),
          sweepIntervalMs: config.outboxSweepIntervalMs,
          sweepBatch: 1000,
          onError: (error) => logger.warn({ msg: 'event not published yet; it stays in the outbox', error: String((error as Error)?.message ?? error) }),
        });
        await relay.start();
        return relay;
      },
    },
    WalletService,
    OperatorAudit,
    VoucherService,
    PlanService,
    WalletRequests,
    ExpirySweeper,
  ],
  exports: [OutboxRelay, WalletService, WalletRequests, VoucherService, PlanService, ExpirySweeper],
})
export class WalletModule {}
