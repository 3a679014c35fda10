import { Logger } from '@nestjs/common';
import { PROBE_TIMEOUT_MS } from '@billing/observability';
import { ConsumerMessages, JetStreamManager, JsMsg, NatsConnection } from 'nats';
import { handleBounded, InFlightLimit } from './bounded-consumer.in-flight';
import { DurableConsumerSettings, ensureDurableConsumer } from './bounded-consumer.settings';
import { ensureStream, StreamSpec, withJetStreamPatience } from './streams';

export { consumerChanges } from './bounded-consumer.settings';
export type { DurableConsumerSettings, OwnedConsumerSetting } from './bounded-consumer.settings';
export { handleBounded, InFlightLimit } from './bounded-consumer.in-flight';

export interface BoundedConsumerOptions {
  /** The logs' context: the service's consumer (`LifecycleConsumer`). */
  readonly logContext: string;
  /** Created if missing, at start and whenever consuming starts over. */
  readonly stream: StreamSpec;
  readonly consumer: DurableConsumerSettings;
  /** Messages handled at once; more are pulled only as these finish. */
  readonly maxInFlight: number;
  /** Wait before consuming again after it ended or failed (consumer or stream deleted, server restarted). */
  readonly restartDelayMs: number;
  /**
   * What a message means: it acks, naks (with the delay it wants) or terms it. A throw is a bug:
   * logged here, and the message comes back after the ack wait.
   */
  readonly handle: (m: JsMsg) => Promise<void>;
}

/** The durable consumer as JetStream counts it, over every process that shares it. */
export interface ConsumerCounts {
  /** Messages in the stream not handed to the consumer yet. */
  readonly pending: number;
  /** Messages handed out and not acknowledged: being handled, or waiting for a redelivery. */
  readonly unacknowledged: number;
}

/**
 * A durable JetStream pull consumer with at most `maxInFlight` messages handled at once. It owns
 * the consumer's settings, the loop and its start-overs; the service owns only what a message
 * means (`handle`). JetStream settles nothing by itself: whatever is not acknowledged when a
 * process stops or dies is delivered again, to it or to another process sharing the consumer.
 */
export class BoundedConsumer {
  private readonly logger: Logger;
  private readonly limit: InFlightLimit;
  private messages: ConsumerMessages | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private endPause: (() => void) | null = null;
  /** For `counts()` only: a scrape must not wait longer than a health probe. */
  private metricsJsm: Promise<JetStreamManager> | null = null;
  /** Messages given to the handler since start. */
  handled = 0;
  /** Times consuming ended or failed and was started over. */
  restarts = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: BoundedConsumerOptions,
  ) {
    this.logger = new Logger(options.logContext);
    this.limit = new InFlightLimit(options.maxInFlight);
  }

  /** Messages this process is handling now. */
  get inFlight(): number {
    return this.limit.size;
  }

  /** Makes the stream and consumer as needed and starts consuming; fails if NATS refuses, so the service does not start half-way. */
  async start(): Promise<void> {
    this.messages = await this.open();
    this.running = this.run(this.messages);
  }

  /** Stops pulling, hands back what was pulled and not started, and waits for the handlers under way. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopMessages(this.messages);
    this.limit.open();
    this.endPause?.();
    await this.running;
    await this.limit.idle();
  }

  async counts(): Promise<ConsumerCounts> {
    this.metricsJsm ??= this.nc.jetstreamManager({ timeout: PROBE_TIMEOUT_MS, checkAPI: false }).catch((error) => {
      this.metricsJsm = null;
      throw error;
    });
    const info = await (await this.metricsJsm).consumers.info(this.options.stream.name, this.options.consumer.name);
    return { pending: info.num_pending, unacknowledged: info.num_ack_pending };
  }

  private async open(): Promise<ConsumerMessages> {
    const { stream, consumer, maxInFlight } = this.options;
    // Each step tried again while the servers do not answer (a cluster node restarting, a loaded host): a start is not given up on a timeout.
    const jsm = await withJetStreamPatience(() => this.nc.jetstreamManager());
    await ensureStream(jsm, stream);
    await withJetStreamPatience(() => ensureDurableConsumer(jsm, stream.name, consumer, this.logger, this.nc.info?.version));
    const durable = await withJetStreamPatience(() => this.nc.jetstream().consumers.get(stream.name, consumer.name));
    // By default nats.js waits, for ever, for a deleted consumer or stream to come back; aborting
    // ends the messages instead, and `run` makes them again.
    return durable.consume({ max_messages: maxInFlight, abort_on_missing_resource: true });
  }

  /** Consumes until stopped; if consuming ends otherwise (consumer or stream deleted, server restarted), starts over after a wait. */
  private async run(first: ConsumerMessages): Promise<void> {
    let messages: ConsumerMessages | null = first;
    const name = this.options.consumer.name;
    while (!this.stopping) {
      try {
        if (!messages) {
          messages = this.messages = await this.open();
          // Stopped while it was opening: nothing else would stop these.
          if (this.stopping) this.stopMessages(messages);
        }
        await handleBounded(messages, this.limit, (m) => this.handleOne(m), () => this.stopping);
        if (!this.stopping) this.logger.error({ msg: 'consuming ended; starting over', stream: this.options.stream.name, consumer: name });
      } catch (error) {
        if (!this.stopping) this.logger.error({ msg: 'consuming failed; starting over', stream: this.options.stream.name, consumer: name, error: String((error as Error)?.message ?? error) });
      }
      messages = null;
      if (this.stopping) break;
      this.restarts++;
      await this.pause(this.options.restartDelayMs);
    }
  }

  private async handleOne(m: JsMsg): Promise<void> {
    this.handled++;
    try {
      await this.options.handle(m);
    } catch (error) {
      this.logger.error({ msg: 'message handling failed; redelivered after the ack wait', subject: m.subject, error: String((error as Error)?.stack ?? error) });
    }
  }

  /** Unsubscribing throws on a connection already closed, which has stopped the messages anyway. */
  private stopMessages(messages: ConsumerMessages | null): void {
    try {
      messages?.stop();
    } catch {
      // See above.
    }
  }

  /** A wait that `stop()` cuts short. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.endPause = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.endPause = done;
    });
  }
}
