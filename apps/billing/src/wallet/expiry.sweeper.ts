import { Inject, Injectable, Logger } from '@nestjs/common';
import { BillingConfig } from '../config';
import { CONFIG } from '../tokens';
import { partitionCondition, Shards } from '@billing/persistence';
import { Ownership } from '../ownership/ownership.service';
import { WalletService } from './wallet.service';

/**
 * Vouchers and plan credits expire (and are announced as expiring) on time even in wallets nobody
 * touches: every sweep wakes the wallets that hold a grant due before the next sweep (an active
 * actor has its own timer), and those with a storage countdown running (its reminders and deletion
 * are the wallet actor's to decide; there are few). Each process sweeps the organizations it serves.
 */
@Injectable()
export class ExpirySweeper {
  private readonly logger = new Logger('ExpirySweeper');
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(CONFIG) private readonly config: BillingConfig,
    private readonly shards: Shards,
    private readonly wallets: WalletService,
    private readonly ownership: Ownership,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.config.expirySweepIntervalMs);
    this.timer.unref();
    void this.sweep();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async sweep(): Promise<void> {
    // Shard by shard: one that cannot be reached waits for the next sweep, the others are swept.
    for (const { shard, filter } of this.shards.split(this.ownership.owned())) {
      try {
        const owned = partitionCondition('org_id', filter);
        const rows = (
          await (await this.shards.knex(shard)).raw(
            `select distinct org_id from grants where kind <> 'topup' and remaining > 0 and (
               expires_at <= now() + (? * interval '1 millisecond')
               or (expiry_notice_at is null and expires_at <= now() + (? * interval '1 millisecond'))) and ${owned.sql}
             union select org_id from storage_suspensions where cancelled_at is null and deletion_requested_at is null and ${owned.sql}`,
            [this.config.expirySweepIntervalMs, this.config.expirySweepIntervalMs + this.config.grantExpiringNoticeMs, ...owned.bindings, ...owned.bindings],
          )
        ).rows as { org_id: string }[];
        for (const { org_id } of rows) {
          if (!this.wallets.registry.has(org_id)) this.wallets.registry.tell(org_id, { parsed: { name: 'expire' }, reply: () => undefined });
        }
      } catch (error) {
        this.logger.warn({ msg: 'expiry sweep failed; next one retries', shard, error: String((error as Error)?.message ?? error) });
      }
    }
  }
}
