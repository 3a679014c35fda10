import { randomUUID } from 'crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, errorReply, fingerprint, PlanSubscriptionSpec } from '@billing/contracts';
import { GrantCommand } from '@billing/domain';
import { PlanRepository, PlanSubscription } from '@billing/persistence';
import { BillingConfig } from '../config';
import { CONFIG } from '../tokens';
import { Ownership } from '../ownership/ownership.service';
import { WalletService } from '../wallet/wallet.service';

/** Refusals after which a period is skipped: granting it again would be refused again. */
const SKIP_PERIOD = new Set<string>([ErrorCode.GRANT_ALREADY_EXPIRED, ErrorCode.CURRENCY_LOCKED]);

function view(s: PlanSubscription) {
  return { id: s.id, orgId: s.orgId, plan: s.plan, amount: s.amount.toFixed(), currency: s.currency, periodMs: s.periodMs, rolloverCap: s.rolloverCap?.toFixed() ?? null, nextPeriodAt: s.nextPeriodAt.toISOString(), endsAt: s.endsAt?.toISOString() ?? null };
}

/**
 * Billing plans: each period a subscription grants its plan credit, expiring at the period's end
 * (or rolling over up to the plan's cap). A period's grant has the idempotency key
 * `plan:<subscription>:<period start>`, so a crash between the grant and moving the subscription
 * on grants nothing twice; a period missed while the engine was down is skipped, not paid late.
 */
@Injectable()
export class PlanService {
  private readonly logger = new Logger('PlanService');
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    @Inject(CONFIG) private readonly config: BillingConfig,
    private readonly repository: PlanRepository,
    private readonly wallets: WalletService,
    private readonly ownership: Ownership,
  ) {}

  async subscribe(spec: PlanSubscriptionSpec): Promise<object> {
    const s = await this.repository.subscribe({ id: randomUUID(), ...spec, nextPeriodAt: spec.startsAt ?? new Date() });
    void this.run();
    return { ok: true, subscription: view(s) };
  }

  async cancel(subscriptionId: string): Promise<object> {
    const s = await this.repository.cancel(subscriptionId, new Date());
    return s ? { ok: true, subscription: view(s) } : errorReply(ErrorCode.INVALID_FIELD, 'no active subscription with this id');
  }

  start(): void {
    this.timer = setInterval(() => void this.run(), this.config.planSweepIntervalMs);
    this.timer.unref();
    void this.run();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Grants every period that has started, of the organizations served here. */
  async run(now = new Date()): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const due = await this.repository.due(now, this.ownership.owned());
        if (due.length === 0) return;
        // A period that cannot be granted now (its shard unreachable, say) holds up no other organization's.
        let granted = 0;
        for (const s of due) {
          try {
            await this.grantPeriod(s);
            granted++;
          } catch (error) {
            this.logger.warn({ msg: 'plan period not granted yet; the next run retries', subscription: s.id, error: String((error as Error)?.message ?? error) });
          }
        }
        if (granted === 0) return;
      }
    } catch (error) {
      this.logger.warn({ msg: 'plan periods not granted yet; the next run retries', error: String((error as Error)?.message ?? error) });
    } finally {
      this.running = false;
    }
  }

  private async grantPeriod(s: PlanSubscription): Promise<void> {
    const start = s.nextPeriodAt;
    const end = new Date(start.getTime() + s.periodMs);
    const command: GrantCommand = {
      type: 'grant',
      idempotencyKey: `plan:${s.id}:${start.getTime()}`,
      kind: 'plan',
      amount: s.amount,
      currency: s.currency,
      service: null,
      expiresAt: end,
      reference: `plan:${s.plan}:${s.id}`,
      rollover: s.rolloverCap ? { cap: s.rolloverCap, periodMs: s.periodMs } : null,
    };
    const reply = (await this.wallets.ask(s.orgId, { name: 'grant', command, requestHash: fingerprint(command) })) as { ok: boolean; error?: { code: string; message: string } };
    if (!reply.ok && !SKIP_PERIOD.has(reply.error?.code ?? '')) throw new Error(`plan ${s.id}: ${reply.error?.code} ${reply.error?.message}`);
    if (!reply.ok) this.logger.warn({ msg: 'plan period skipped', subscription: s.id, reason: reply.error });
    await this.repository.advance(s.id, start, end);
  }
}
