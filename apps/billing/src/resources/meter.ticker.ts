import { Inject, Injectable } from '@nestjs/common';
import { BillingConfig } from '../config';
import { CONFIG } from '../tokens';
import { ResourceService } from './resource.service';

/** Each tick interval is cut into this many slots, so organizations are charged spread out, not all at once. */
export const TICK_SLOTS = 20;

/**
 * Charges running resources every `TICK_INTERVAL_MS`: every organization with resources whose
 * charges are not all settled has them ticked once per interval (in the organization's own slot,
 * so their meters reach its wallet actor together and are committed in one batch).
 */
@Injectable()
export class MeterTicker {
  private timer: NodeJS.Timeout | null = null;
  private slot = 0;
  private readonly slots = new Map<string, number>();
  ticks = 0;

  constructor(
    @Inject(CONFIG) private readonly config: BillingConfig,
    private readonly resources: ResourceService,
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
    for (const orgId of this.resources.billableOrgs()) if (this.slotOf(orgId) === slot) this.resources.tick(orgId);
  }
}
