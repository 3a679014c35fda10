import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/postgresql';
import { PaymentsConfig } from './payments.config';
import { TopupSettlement } from './topup-settlement';
import { PAYMENTS_CONFIG, PAYMENTS_ORM } from './payments.tokens';

/**
 * Every `sweepIntervalMs`, re-sends the credits and reversals the engine has not confirmed
 * (the gateway stopped between settling a top-up and the engine's answer, or the engine was
 * down). Safe with any number of gateways: the engine's idempotency keys make a repeat a no-op.
 */
@Injectable()
export class PaymentsSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('PaymentsSweeper');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly settlement: TopupSettlement,
    @Inject(PAYMENTS_CONFIG) private readonly config: PaymentsConfig,
    @Inject(PAYMENTS_ORM) private readonly orm: MikroORM,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.tick(), this.config.sweepIntervalMs);
    this.timer.unref();
  }

  private tick(): void {
    if (this.running) return; // one run at a time; a slow run delays the next
    this.running = this.settlement
      .sweep()
      .then((n) => {
        if (n > 0) this.logger.log({ msg: 'top-ups swept', count: n });
      })
      .catch((error) => this.logger.warn({ msg: 'top-up sweep failed', error: (error as Error).message }))
      .finally(() => (this.running = null));
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.orm.close(true);
  }
}
