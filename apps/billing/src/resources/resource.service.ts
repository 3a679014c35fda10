import { Inject, Injectable, Logger } from '@nestjs/common';
import { ActorRegistry } from '@billing/actors';
import { LifecycleMessage } from '@billing/contracts';
import { PartitionFilter, ResourceRepository } from '@billing/persistence';
import { BillingConfig } from '../config';
import { CONFIG } from '../tokens';
import { WalletService } from '../wallet/wallet.service';
import { LifecycleOutcome, ResourceActor, ResourceMessage } from './resource.actor';
import { ResourceBook, withEvents } from './resource-book';

/** Deleted resources are kept in memory this long after their last event, for late corrections. */
export const RECENTLY_DELETED_MS = 2 * 86_400_000;

/** The resource actors, and the book of billable resources they keep up to date. */
@Injectable()
export class ResourceService {
  private readonly logger = new Logger('ResourceService');
  readonly registry: ActorRegistry<ResourceMessage>;

  constructor(
    @Inject(CONFIG) config: BillingConfig,
    readonly book: ResourceBook,
    private readonly repository: ResourceRepository,
    wallets: WalletService,
  ) {
    const deps = { book, repository, meter: (orgId: string, ids: string[]) => wallets.meter(orgId, ids) };
    this.registry = new ActorRegistry<ResourceMessage>(
      (key) => {
        const slash = key.indexOf('/');
        return new ResourceActor(key.slice(0, slash), key.slice(slash + 1), deps);
      },
      { mailboxCapacity: 1024, maxBatch: 256, idleMs: Math.min(config.actorIdleMs, 60_000), sweepIntervalMs: 10_000 },
      (key, error) => this.logger.error({ msg: 'resource actor crashed and was restarted', resource: key, error: String((error as Error)?.stack ?? error) }),
    );
  }

  /** Applies one lifecycle event; resolves with what became of it once that is committed. */
  apply(event: LifecycleMessage): Promise<LifecycleOutcome> {
    return new Promise((resolve) => {
      if (!this.registry.tell(`${event.orgId}/${event.resourceId}`, { event, done: resolve })) resolve({ kind: 'retry', reason: 'resource mailbox full' });
    });
  }

  /**
   * After a restart, or when partitions move here: every resource of theirs that may still bill
   * is back in the book, to be caught up by the ticker from the last instant its meters reached
   * (every day since is metered).
   */
  async resume(partitions?: PartitionFilter, now = new Date()): Promise<number> {
    let n = 0;
    for await (const page of this.repository.live(new Date(now.getTime() - RECENTLY_DELETED_MS), partitions)) {
      for (const stored of page) this.book.put(withEvents(stored, stored.events), stored.meteredUntil?.getTime() ?? 0);
      n += page.length;
    }
    return n;
  }

  /** The organizations that match moved to another process: their resource actors finish, then their resources leave the book. */
  async retire(matches: (orgId: string) => boolean): Promise<void> {
    await this.registry.retire((key) => matches(key.slice(0, key.indexOf('/'))));
    this.book.forget(matches);
  }

  close(): void {
    this.registry.close();
  }
}
