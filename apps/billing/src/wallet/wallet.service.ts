import { Inject, Injectable, Logger } from '@nestjs/common';
import { ActorRegistry, Batcher } from '@billing/actors';
import { Subjects } from '@billing/contracts';
import { ZERO } from '@billing/domain';
import { OutboxRelay } from '@billing/messaging';
import { StoredOutboxMessage, WalletChange, WalletRepository } from '@billing/persistence';
import { BillingConfig } from '../config';
import { CONFIG } from '../tokens';
import { WalletActor } from './wallet.actor';
import { WalletMessage } from './wallet-message';

/**
 * Owns the wallet actors and the group-commit queue they share: however many actors have a
 * batch ready at one moment, they are committed in one transaction.
 */
@Injectable()
export class WalletService {
  private readonly logger = new Logger('WalletService');
  readonly registry: ActorRegistry<WalletMessage>;
  readonly commits: Batcher<WalletChange, StoredOutboxMessage[]>;

  constructor(
    @Inject(CONFIG) config: BillingConfig,
    private readonly repository: WalletRepository,
    private readonly relay: OutboxRelay,
    subjects: Subjects,
  ) {
    this.commits = new Batcher((changes) => repository.commit(changes), config.maxWalletsPerCommit, config.concurrentCommits);
    const deps = {
      subjects,
      now: () => new Date(),
      load: (orgId: string) => repository.load(orgId),
      findByKeys: (orgId: string, keys: string[]) => repository.findByIdempotencyKeys(keys.map((key) => ({ orgId, key }))),
      commit: (change: WalletChange) => this.commits.submit(change),
      published: (messages: StoredOutboxMessage[]) => relay.publish(messages),
      burnRatePerHour: () => ZERO,
    };
    this.registry = new ActorRegistry<WalletMessage>(
      (orgId) => new WalletActor(orgId, deps, (m) => this.registry.tell(orgId, m)),
      { mailboxCapacity: config.mailboxCapacity, maxBatch: config.maxBatchCommands, idleMs: config.actorIdleMs, sweepIntervalMs: Math.min(config.actorIdleMs, 10_000) },
      (orgId, error) => this.logger.error({ msg: 'wallet actor crashed and was restarted', orgId, error: String((error as Error)?.stack ?? error) }),
    );
  }

  /** False when the organization's mailbox is full. */
  tell(orgId: string, message: WalletMessage): boolean {
    return this.registry.tell(orgId, message);
  }

  ledgerPage(orgId: string, afterSeq: number, limit: number) {
    return this.repository.ledgerPage(orgId, afterSeq, limit);
  }

  close(): void {
    this.registry.close();
  }
}
