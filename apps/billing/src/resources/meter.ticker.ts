import { Inject, Injectable } from '@nestjs/common';
import { BillingConfig } from '../config';
import { CONFIG } from '../tokens';
import { WalletService } from '../wallet/wallet.service';
import { ResourceBook } from './resource-book';

/** Each tick interval is cut into this many slots, so organizations are charged spread out, not all at once. */
export const TICK_SLOTS = 20;

/**
 * Charges running resources every `TICK_INTERVAL_MS`: every organization with a billable
 * resource gets one meter message per interval (in its own slot), and its wallet actor sets the
 * cumulative charge of all of them in one batch.
 */
@Injectable()
export class MeterTicker {
  private timer: NodeJS.Timeout | null = null;
  private slot = 0;
  private readonly slots = new Map<string, number>();
  ticks = 0;

  constructor(
    @Inject(CONFIG) private readonly config: BillingConfig,
    private readonly book: ResourceBook,
    private readonly wallets: WalletService,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), Math.max(1, Math.floor(this.config.tickIntervalMs / TICK_SLOTS)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private slotOf(orgId: string): number {
    let s = this.slots.get(orgId);
    if (s === undefined) {
      let h = 0;
      for (let i = 0; i < orgId.length; i++) h = (h * 31 + orgId.charCodeAt(i)) | 0;
      s = Math.abs(h) % TICK_SLOTS;
      this.slots.set(orgId, s);
    }
    return s;
  }

  private tick(): void {
    const slot = this.slot;
    this.slot = (this.slot + 1) % TICK_SLOTS;
    this.ticks++;
    for (const orgId of this.book.orgs()) {
      if (this.slotOf(orgId) !== slot) continue;
      // A full mailbox skips this tick: the next one sets the same cumulative charge.
      this.wallets.meter(orgId, null).catch(() => undefined);
    }
  }
}
