import { Inject, Injectable, Logger } from '@nestjs/common';
import { BoundedConsumer, eventsStreamSpec, StreamSpec } from '@billing/messaging';
import { JsMsg, NatsConnection } from 'nats';
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
  private readonly consumer: BoundedConsumer;

  constructor(
    @Inject(ALERTS_CONFIG) private readonly config: AlertsConfig,
    @Inject(ALERTS_NATS) nc: NatsConnection,
    private readonly dispatcher: WebhookDispatcher,
    private readonly metrics: AlertsMetrics,
  ) {
    this.consumer = new BoundedConsumer(nc, {
      logContext: 'AlertConsumer',
      stream: alertsEventsStream(config),
      consumer: {
        name: config.consumerName,
        ackWaitMs: config.ackWaitMs,
        // Retries are paced by `nak` delays and ended by the retry policy, not by a delivery count.
        maxDeliver: -1,
        maxAckPending: MAX_ALERTS_ACK_PENDING,
        filterSubjects: alertSubjects(config.subjectPrefix),
        // A server that takes one filter only gives every event; `readAlertEvent` ignores what is not an alert.
        singleFilterFallback: `${config.subjectPrefix}.events.>`,
        // The ack wait is ALERTS_ACK_WAIT_MS's (the heartbeat below is paced by it); filters made by a
        // version that knew fewer alert types would never be given the new ones.
        owned: ['ack_wait', 'filter_subjects'],
      },
      maxInFlight: MAX_ALERTS_IN_FLIGHT,
      restartDelayMs: CONSUMER_RESTART_DELAY_MS,
      handle: (m) => this.handle(m),
    });
  }

  /** Events this process is delivering now. */
  get inFlightCount(): number {
    return this.consumer.inFlight;
  }

  /** Where the durable consumer stands, as JetStream counts it over every process sharing it. */
  position(): Promise<ConsumerPosition> {
    return this.consumer.counts();
  }

  start(): Promise<void> {
    return this.consumer.start();
  }

  /** Stops pulling, hands back what was pulled and not started, and waits for the events under way. */
  stop(): Promise<void> {
    return this.consumer.stop();
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
