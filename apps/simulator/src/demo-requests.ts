/** The demo's requests to the engine: retried while it is busy or away, and bounded in time. */
import { NatsConnection } from 'nats';
import { Currency } from '@billing/domain';
import { ControlPlaneSimulator } from './control-plane.simulator';

/** Attempts at one command (the same body, so the same idempotency key) when the engine is busy or away. */
const COMMAND_ATTEMPTS = 3;
const RETRY_PAUSE_MS = 1000;
/** Refusals after which the same command may succeed. */
const RETRYABLE = new Set(['UNAVAILABLE', 'MAILBOX_FULL', 'INTERNAL', 'CONFLICT', 'TIMEOUT']);

/** An organization of the demo, with the simulated control plane that runs its resources and its billing currency. */
export interface DemoOrg {
  readonly id: string;
  readonly sim: ControlPlaneSimulator;
  readonly showcase: boolean;
  currency: Currency;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `work`, or null once `ms` have passed (the timer cleared either way: nothing is left waiting). */
export function within<T>(work: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export class DemoRequests {
  constructor(
    private readonly nc: NatsConnection,
    private readonly operator: NatsConnection,
    /** True once the demo stops: no more attempts. */
    private readonly stopped: () => boolean,
  ) {}

  /**
   * A wallet command, `asOperator` for credit and settings (the control plane may not credit);
   * retried with the same body (so the same idempotency key) while the engine is busy or away.
   */
  async ask(org: DemoOrg, command: string, body: object, asOperator: boolean): Promise<any> {
    return this.retry(() => org.sim.request(org.id, command, body, asOperator ? this.operator : this.nc));
  }

  async retry(send: () => Promise<any>): Promise<any> {
    let last: any = { ok: false, error: { code: 'TIMEOUT', message: 'no answer' } };
    for (let attempt = 0; attempt < COMMAND_ATTEMPTS && !this.stopped(); attempt++) {
      try {
        last = await send();
      } catch (error) {
        last = { ok: false, error: { code: 'TIMEOUT', message: String((error as Error)?.message ?? error) } };
      }
      if (last.ok || !RETRYABLE.has(last.error?.code)) return last;
      await sleep(RETRY_PAUSE_MS);
    }
    return last;
  }
}
