import { Inject, Injectable, Logger } from '@nestjs/common';
import { ActorRegistry } from '@billing/actors';
import { LifecycleMessage } from '@billing/contracts';
import { PartitionFilter, ResourceRepository } from '@billing/persistence';
import { BillingConfig } from '../config';
import { CONFIG } from '../tokens';
import { Ownership } from '../ownership/ownership.service';
import { WalletService } from '../wallet/wallet.service';
import { PriceCatalog } from './price-catalog';
import { LifecycleOutcome, MeterAnswer, ResourceActor, ResourceMessage } from './resource.actor';

/** Lifecycle events one resource keeps; past it, only what ends billing is still taken. */
export const MAX_EVENTS_PER_RESOURCE = 10_000;
/** How far ahead of the engine's clock a lifecycle event may be stamped. */
export const MAX_LIFECYCLE_FUTURE_MS = 5 * 60_000;
/** How far back a lifecycle event may be stamped: as long as the lifecycle stream keeps messages. */
export const MAX_LIFECYCLE_LATENESS_MS = 30 * 86_400_000;

const keyOf = (orgId: string, resourceId: string) => `${orgId}/${resourceId}`;
const orgOf = (key: string) => key.slice(0, key.indexOf('/'));

/**
 * The resource side: one actor per GPU resource, and the index of those whose charges are not all
 * settled yet (what the ticker walks). Resources that never ran, or are deleted and settled,
 * leave memory; a later event reads them back.
 */
@Injectable()
export class ResourceService {
  private readonly logger = new Logger('ResourceService');
  readonly registry: ActorRegistry<ResourceMessage>;
  private readonly billableByOrg = new Map<string, Set<string>>();

  constructor(
    @Inject(CONFIG) config: BillingConfig,
    private readonly repository: ResourceRepository,
    wallets: WalletService,
    private readonly ownership: Ownership,
    prices: PriceCatalog,
  ) {
    const deps = {
      repository,
      prices: () => prices.book,
      limits: { maxEvents: MAX_EVENTS_PER_RESOURCE, maxFutureMs: MAX_LIFECYCLE_FUTURE_MS, maxLatenessMs: MAX_LIFECYCLE_LATENESS_MS },
      holdPeriodMs: config.holdMinutes * 60_000,
      now: () => Date.now(),
      fence: (orgId: string) => ownership.fence(orgId),
      fenced: (orgId: string) => ownership.fenced(orgId),
      meter: (orgId: string, charge: Parameters<WalletService['meter']>[1]) => wallets.meter(orgId, charge) as Promise<MeterAnswer>,
      billable: (orgId: string, resourceId: string, billable: boolean) => this.mark(orgId, resourceId, billable),
    };
    this.registry = new ActorRegistry<ResourceMessage>(
      (key) => new ResourceActor(orgOf(key), key.slice(key.indexOf('/') + 1), deps),
      // A resource with charges to settle is ticked every interval, so it never idles that long:
      // only settled resources leave memory.
      { mailboxCapacity: 1024, maxBatch: 256, idleMs: Math.max(Math.min(config.actorIdleMs, 60_000), 2 * config.tickIntervalMs + 10_000), sweepIntervalMs: 10_000 },
      (key, error) => this.logger.error({ msg: 'resource actor crashed and was restarted', resource: key, error: String((error as Error)?.stack ?? error) }),
    );
  }

  /** Resources with charges still to settle. */
  get billable(): number {
    let n = 0;
    for (const s of this.billableByOrg.values()) n += s.size;
    return n;
  }

  /** Organizations with a resource whose charges are not all settled. */
  billableOrgs(): IterableIterator<string> {
    return this.billableByOrg.keys();
  }

  /** Applies one lifecycle event; resolves with what became of it once that is committed. */
  apply(event: LifecycleMessage): Promise<LifecycleOutcome> {
    return new Promise((resolve) => {
      if (!this.registry.tell(keyOf(event.orgId, event.resourceId), { kind: 'lifecycle', event, done: resolve })) resolve({ kind: 'retry', reason: 'resource mailbox full' });
    });
  }

  /** Brings the organization's unsettled resources up to now (a full mailbox skips a tick: the next one sets the same charges). */
  tick(orgId: string): void {
    if (this.ownership.route(orgId).kind !== 'here') return;
    for (const resourceId of this.billableByOrg.get(orgId) ?? []) this.registry.tell(keyOf(orgId, resourceId), { kind: 'tick' });
  }

  /**
   * After a restart, or when partitions move here: every resource of theirs with charges still to
   * settle is back (its record handed to its actor), and the ticker catches it up from where its
   * charges stopped being committed, spread over one tick interval.
   */
  async resume(partitions: PartitionFilter): Promise<number> {
    let n = 0;
    for await (const page of this.repository.billable(partitions)) {
      for (const record of page) {
        this.mark(record.orgId, record.resourceId, true);
        this.registry.tell(keyOf(record.orgId, record.resourceId), { kind: 'resume', record });
      }
      n += page.length;
    }
    return n;
  }

  /** The organizations that match moved to another process: their resource actors finish, then leave with their index. */
  async retire(matches: (orgId: string) => boolean): Promise<void> {
    await this.registry.retire((key) => matches(orgOf(key)));
    for (const orgId of [...this.billableByOrg.keys()]) if (matches(orgId)) this.billableByOrg.delete(orgId);
  }

  close(): void {
    this.registry.close();
  }

  private mark(orgId: string, resourceId: string, billable: boolean): void {
    let set = this.billableByOrg.get(orgId);
    if (billable) {
      if (!set) this.billableByOrg.set(orgId, (set = new Set()));
      set.add(resourceId);
    } else if (set) {
      set.delete(resourceId);
      if (set.size === 0) this.billableByOrg.delete(orgId);
    }
  }
}
