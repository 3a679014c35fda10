import { Inject, Injectable, Logger } from '@nestjs/common';
import { ensureStream, eventsStreamSpec, StreamSpec } from '@billing/messaging';
import { PROBE_TIMEOUT_MS } from '@billing/observability';
import { AckPolicy, ConsumerConfig, ConsumerMessages, ConsumerUpdateConfig, DeliverPolicy, JetStreamManager, JsMsg, nanos, NatsConnection } from 'nats';
import { alertSubjects, readAlertEvent } from './alert-event';
import { AlertsConfig } from './alerts.config';
import { AlertsMetrics, ConsumerPosition } from './alerts.metrics';
import { ALERTS_CONFIG, ALERTS_NATS } from './tokens';
import { STORE_RETRY_DELAY_MS, WebhookDispatcher } from './webhook-dispatcher';

/** Events handled at once; the consumer pulls more only as these finish. */
export const MAX_ALERTS_IN_FLIGHT = 100;
/**
 * Events delivered to this consumer and not yet acknowledged, including those waiting for a
 * retry: past this the server sends no more until some are settled, which bounds what a long
 * receiver outage holds.
 */
export const MAX_ALERTS_ACK_PENDING = 20_000;
/** Wait before consuming again after the consumer failed (its stream deleted, the server restarted, ...). */
export const CONSUMER_RESTART_DELAY_MS = 2_000;

/**
 * Sends an acknowledgement (or a nak, or a heartbeat). If the connection is gone it cannot be
 * sent, and need not be: the server redelivers what is not acknowledged after the ack wait.
 */
function settle(send: () => void): void {
  try {
    send();
  } catch {
    // See above: redelivery covers it.
  }
}

/** The billing engine's event stream, as the engine creates it (whichever service starts first does). */
export function alertsEventsStream(config: AlertsConfig): StreamSpec {
  return eventsStreamSpec(config.eventsStream, config.subjectPrefix, config.jetStreamReplicas);
}

/**
 * The durable JetStream consumer of alert events. A message is acknowledged only once every
 * endpoint of its organization has the event or was given up on; until then it is handed back
 * with a delay (`nak`) and comes back when a retry is due. Whatever this process has not
 * acknowledged when it stops or dies is redelivered, so no event is lost.
 */
@Injectable()
export class AlertConsumer {
  private readonly logger = new Logger('AlertConsumer');
  private messages: ConsumerMessages | null = null;
  private running: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private wake: (() => void) | null = null;
  private endPause: (() => void) | null = null;
  private stopping = false;
  /** For the metrics only: a scrape must not wait longer than a health probe. */
  private metricsJsm: Promise<JetStreamManager> | null = null;

  constructor(
    @Inject(ALERTS_CONFIG) private readonly config: AlertsConfig,
    @Inject(ALERTS_NATS) private readonly nc: NatsConnection,
    private readonly dispatcher: WebhookDispatcher,
    private readonly metrics: AlertsMetrics,
  ) {}

  /** Events this process is delivering now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Where the durable consumer stands, as JetStream counts it over every process sharing it. */
  async position(): Promise<ConsumerPosition> {
    this.metricsJsm ??= this.nc.jetstreamManager({ timeout: PROBE_TIMEOUT_MS, checkAPI: false }).catch((error) => {
      this.metricsJsm = null;
      throw error;
    });
    const info = await (await this.metricsJsm).consumers.info(this.config.eventsStream, this.config.consumerName);
    return { pending: info.num_pending, unacknowledged: info.num_ack_pending };
  }

  async start(): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    await ensureStream(jsm, alertsEventsStream(this.config));
    await this.ensureConsumer();
    this.messages = await this.subscribe();
    this.running = this.run(this.messages);
  }

  /** Stops pulling, hands back what was pulled and not started, and waits for the events under way. */
  async stop(): Promise<void> {
    this.stopping = true;
    // Unsubscribing throws on a connection already closed, which has stopped the messages anyway.
    settle(() => this.messages?.stop());
    this.wake?.();
    this.endPause?.();
    await this.running;
    await Promise.all([...this.inFlight]);
  }

  private async subscribe(): Promise<ConsumerMessages> {
    const consumer = await this.nc.jetstream().consumers.get(this.config.eventsStream, this.config.consumerName);
    return consumer.consume({ max_messages: MAX_ALERTS_IN_FLIGHT });
  }

  /** Consumes until stopped; if consuming ends otherwise (consumer or stream deleted, ...), starts over. */
  private async run(first: ConsumerMessages): Promise<void> {
    let messages: ConsumerMessages | null = first;
    while (!this.stopping) {
      try {
        if (!messages) {
          await ensureStream(await this.nc.jetstreamManager(), alertsEventsStream(this.config));
          await this.ensureConsumer();
          messages = this.messages = await this.subscribe();
        }
        await this.loop(messages);
        if (!this.stopping) this.logger.error({ msg: 'alert consumer ended; starting over', consumer: this.config.consumerName });
      } catch (error) {
        if (!this.stopping) this.logger.error({ msg: 'alert consumer failed; starting over', consumer: this.config.consumerName, error: String((error as Error)?.message ?? error) });
      }
      messages = null;
      if (!this.stopping) await this.pause(CONSUMER_RESTART_DELAY_MS);
    }
  }

  private async ensureConsumer(): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    const { eventsStream: stream, consumerName: name, ackWaitMs } = this.config;
    let existing;
    try {
      existing = await jsm.consumers.info(stream, name);
    } catch (error) {
      if (!/consumer not found/i.test(String((error as Error)?.message))) throw error;
    }
    if (existing) {
      const update: Partial<ConsumerUpdateConfig> = {};
      if (existing.config.ack_wait !== nanos(ackWaitMs)) update.ack_wait = nanos(ackWaitMs);
      // Made by a version that knew fewer alert types: it would never be given the new ones.
      const wanted = alertSubjects(this.config.subjectPrefix);
      const filters = existing.config.filter_subjects ?? [];
      if (filters.length > 0 && (filters.length !== wanted.length || wanted.some((s) => !filters.includes(s)))) {
        update.filter_subjects = wanted;
        this.logger.log({ msg: 'alert consumer filters updated to the current alert types', consumer: name, before: filters, after: wanted });
      }
      if (Object.keys(update).length > 0) await jsm.consumers.update(stream, name, update);
      return;
    }
    const base: Partial<ConsumerConfig> = {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      // From the start of the stream: events published before the first start are not lost either.
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(ackWaitMs),
      // Retries are paced by `nak` delays and ended by the retry policy, not by a delivery count.
      max_deliver: -1,
      max_ack_pending: MAX_ALERTS_ACK_PENDING,
    };
    try {
      await this.addConsumer({ ...base, filter_subjects: alertSubjects(this.config.subjectPrefix) });
    } catch (error) {
      // Servers before 2.10 take one filter only: take every event and skip `balance` here.
      if (!/requires server/i.test(String((error as Error)?.message))) throw error;
      this.logger.warn({ msg: 'NATS server takes one consumer filter only; balance events are read and skipped', server: this.nc.info?.version });
      await this.addConsumer({ ...base, filter_subject: `${this.config.subjectPrefix}.events.>` });
    }
  }

  private async addConsumer(config: Partial<ConsumerConfig>): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    try {
      await jsm.consumers.add(this.config.eventsStream, config);
    } catch (error) {
      // Another process of the service created it between our look and our add.
      if (!/already (in use|exists)/i.test(String((error as Error)?.message))) throw error;
    }
  }

  /** A wait that `stop()` cuts short. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.endPause = null;
        resolve();
      }, ms);
      this.endPause = () => {
        clearTimeout(timer);
        this.endPause = null;
        resolve();
      };
    });
  }

  private async loop(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      if (this.stopping) {
        // Pulled but not started: back to the server at once, for the next process to take.
        settle(() => m.nak());
        continue;
      }
      while (this.inFlight.size >= MAX_ALERTS_IN_FLIGHT && !this.stopping) await new Promise<void>((r) => (this.wake = r));
      if (this.stopping) {
        settle(() => m.nak());
        continue;
      }
      const handling = this.handle(m)
        .catch((error) => this.logger.error({ msg: 'alert event handling failed; redelivered after the ack wait', subject: m.subject, error: String((error as Error)?.stack ?? error) }))
        .finally(() => {
          this.inFlight.delete(handling);
          const w = this.wake;
          this.wake = null;
          w?.();
        });
      this.inFlight.add(handling);
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    const read = readAlertEvent(this.config.subjectPrefix, m.subject, m.data);
    if (read.kind === 'ignore') {
      this.metrics.eventConsumed('ignored');
      settle(() => m.ack());
      return;
    }
    if (read.kind === 'unusable') {
      this.logger.warn({ msg: 'alert event cannot be delivered; dropped', subject: m.subject, reason: read.reason, streamSeq: m.seq });
      this.metrics.eventConsumed('unusable');
      settle(() => m.term());
      return;
    }
    // A slow receiver must not look like a dead consumer: the server would redeliver mid-request.
    const heartbeat = setInterval(() => settle(() => m.working()), Math.max(250, Math.floor(this.config.ackWaitMs / 3)));
    try {
      const outcome = await this.dispatcher.dispatch(read.event, m.data);
      this.metrics.eventConsumed(outcome.kind);
      if (outcome.kind === 'done') settle(() => m.ack());
      else settle(() => m.nak(outcome.delayMs));
    } catch (error) {
      this.metrics.eventConsumed('error');
      this.logger.warn({ msg: 'alert event not dispatched yet; redelivered later', eventId: read.event.eventId, error: String((error as Error)?.message ?? error) });
      settle(() => m.nak(STORE_RETRY_DELAY_MS));
    } finally {
      clearInterval(heartbeat);
    }
  }
}
