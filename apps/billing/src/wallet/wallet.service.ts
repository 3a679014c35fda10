import { Inject, Injectable, Logger } from '@nestjs/common';
import { ActorRegistry, Batcher } from '@billing/actors';
import { ErrorCode, errorReply, Subjects } from '@billing/contracts';
import { compareEvents, ResourceCharge, runningSinceMs } from '@billing/domain';
import { OutboxRelay } from '@billing/messaging';
import { ResourceRepository, Shards, StoredOutboxMessage, WalletChange, WalletRepository, WorkspaceBudgetRepository } from '@billing/persistence';
import { PriceCatalog } from '../resources/price-catalog';
import { Ownership } from '../ownership/ownership.service';
import { BillingMetrics } from '../billing.metrics';
import { BillingConfig } from '../config';
import { CONFIG, NATS } from '../tokens';
import { StoreUnavailableError, WalletActor, WalletActorDeps } from './wallet.actor';
import { WalletMessage } from './wallet-message';
import { NatsConnection } from 'nats';

/**
 * Owns the wallet actors and the group-commit queue they share: however many actors have a
 * batch ready at one moment, they are committed in one transaction.
 */
@Injectable()
export class WalletService {
  private readonly logger = new Logger('WalletService');
  readonly registry: ActorRegistry<WalletMessage>;
  /**
   * One group-commit queue per shard: a shard that is slow or cut holds up only its own
   * organizations' commits, never another shard's (each queue has its CONCURRENT_COMMITS).
   */
  private readonly commitQueues = new Map<string, Batcher<WalletChange, StoredOutboxMessage[]>>();

  constructor(
    @Inject(CONFIG) config: BillingConfig,
    @Inject(NATS) nc: NatsConnection,
    private readonly repository: WalletRepository,
    relay: OutboxRelay,
    subjects: Subjects,
    prices: PriceCatalog,
    private readonly resourceRepository: ResourceRepository,
    metrics: BillingMetrics,
    ownership: Ownership,
    budgets: WorkspaceBudgetRepository,
    shards: Shards,
  ) {
    const queueOf = (orgId: string) => {
      const shard = shards.shardOf(orgId);
      let queue = this.commitQueues.get(shard);
      if (!queue) {
        queue = new Batcher((changes) => repository.commit(changes), config.maxWalletsPerCommit, config.concurrentCommits, (wallets, ms) => {
          metrics.batchWallets.observe(wallets);
          metrics.commitSeconds.observe(ms / 1000);
        });
        this.commitQueues.set(shard, queue);
      }
      return queue;
    };
    const deps: WalletActorDeps = {
      subjects,
      shardOf: (orgId) => (shards.names.length > 1 ? shards.shardOf(orgId) : null),
      now: () => new Date(),
      load: (orgId) => repository.load(orgId),
      findMeters: (orgId, keys) => repository.findMeters(orgId, keys),
      findGrants: (orgId, ids) => repository.findGrants(orgId, ids),
      findByKeys: (orgId, keys) => repository.findByIdempotencyKeys(keys.map((key) => ({ orgId, key }))),
      commit: (change) => queueOf(change.orgId).submit(change),
      published: (messages) => relay.publish(messages),
      announce: (m) => nc.publish(m.subject, m.payload),
      loadBudgets: async (orgId, month) => ({ caps: await budgets.caps(orgId), spend: await budgets.spend(orgId, month) }),
      prices: () => prices.book,
      fence: (orgId) => ownership.fence(orgId),
      fenced: (orgId) => ownership.fenced(orgId),
      expiryNoticeMs: config.grantExpiringNoticeMs,
      ladder: config.ladder,
      storedResources: async (orgId) =>
        (await resourceRepository.list(orgId, 100_000)).filter((r) => !r.periods.deleted && (r.storageGb ?? 0) > 0).map((r) => ({ resourceId: r.resourceId, workspaceId: r.workspaceId })),
    };
    this.registry = new ActorRegistry<WalletMessage>(
      (orgId) => new WalletActor(orgId, deps, (m) => this.registry.tell(orgId, m)),
      { mailboxCapacity: config.mailboxCapacity, maxBatch: config.maxBatchCommands, idleMs: config.actorIdleMs, sweepIntervalMs: Math.min(config.actorIdleMs, 10_000) },
      (orgId, error) =>
        error instanceof StoreUnavailableError
          ? this.logger.warn({ msg: 'the ledger could not be reached: batch answered UNAVAILABLE, wallet read again on its next message', orgId, shard: shards.shardOf(orgId), error: error.message })
          : this.logger.error({ msg: 'wallet actor crashed and was restarted', orgId, error: String((error as Error)?.stack ?? error) }),
    );
  }

  /** Group commits made so far, every shard's (the bench reads it). */
  get commitFlushes(): number {
    return [...this.commitQueues.values()].reduce((n, q) => n + q.flushes, 0);
  }

  /** False when the organization's mailbox is full. */
  tell(orgId: string, message: WalletMessage): boolean {
    return this.registry.tell(orgId, message);
  }

  ledgerPage(orgId: string, afterSeq: number, limit: number) {
    return this.repository.ledgerPage(orgId, afterSeq, limit);
  }

  /** The organization's resources with their live state, from their stored lifecycle events. */
  async resources(orgId: string) {
    const stored = await this.resourceRepository.list(orgId);
    return stored.map((r) => {
      const { periods } = r;
      const last = [...r.events].sort(compareEvents).at(-1);
      const since = runningSinceMs(periods);
      return {
        resourceId: r.resourceId,
        workspaceId: r.workspaceId,
        service: r.service,
        sku: r.sku,
        storageGb: r.storageGb ?? 0,
        status: periods.deleted ? 'DELETED' : (last?.status ?? 'PENDING'),
        running: periods.running,
        runningSince: since === null ? null : new Date(since).toISOString(),
        lastEventAt: last ? last.at.toISOString() : null,
      };
    });
  }

  usage(orgId: string, workspaceId: string | null, from: Date, to: Date) {
    return this.resourceRepository.usage(orgId, workspaceId, from, to);
  }

  /** Sends a command to the organization's actor and resolves with its reply (after commit). */
  ask(orgId: string, parsed: WalletMessage['parsed']): Promise<object> {
    return new Promise((resolve) => {
      if (!this.registry.tell(orgId, { parsed, reply: resolve })) resolve(errorReply(ErrorCode.MAILBOX_FULL, `organization ${orgId} has too many commands waiting; retry later`));
    });
  }

  /** Has the wallet settle a resource's charges; resolves with its answer once committed (or refused). */
  meter(orgId: string, charge: ResourceCharge): Promise<object> {
    return this.ask(orgId, { name: 'meter', charge });
  }

  /** The organizations that match moved to another process: their actors finish their mailboxes and are dropped. */
  retire(matches: (orgId: string) => boolean): Promise<number> {
    return this.registry.retire(matches);
  }

  close(): void {
    this.registry.close();
  }
}
