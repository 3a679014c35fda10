import { Counter, Gauge, Histogram, Metric, Registry } from 'prom-client';
import { WEBHOOK_ATTEMPT_OUTCOMES, WebhookAttempt } from './webhook-dispatcher';

/** What became of an event taken from the stream (AlertConsumer). */
export const EVENT_OUTCOMES = ['done', 'retry', 'ignored', 'unusable', 'error'] as const;
export type EventOutcome = (typeof EVENT_OUTCOMES)[number];

/** The durable consumer as JetStream counts it, over every process that shares it. */
export interface ConsumerPosition {
  /** Events in the stream not handed to the consumer yet. */
  readonly pending: number;
  /** Events handed out and not acknowledged: being delivered, or waiting for a retry. */
  readonly unacknowledged: number;
}

/** What the scrape reads from the running service. */
export interface AlertsGauges {
  eventsInFlight(): number;
  /** Null when it cannot be read now (NATS down, consumer not created yet). */
  consumerPosition(): Promise<ConsumerPosition | null>;
}

/**
 * The alert service's Prometheus metrics, built like the engine's (BillingMetrics): counters
 * and histograms exist before the registry and are registered on it by the observability
 * module, with gauges that read their value at scrape time.
 */
export class AlertsMetrics {
  readonly webhookRequests = new Counter({ name: 'alerts_webhook_requests_total', help: 'Webhook requests, by outcome: delivered, retry (failed, tried again later), gave_up (failed, retry window over), settled (failed, nothing left to retry)', labelNames: ['outcome'], registers: [] });
  readonly webhookSeconds = new Histogram({ name: 'alerts_webhook_request_seconds', help: 'Webhook request duration, until the answer, the timeout or the refusal', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [] });
  readonly events = new Counter({ name: 'alerts_events_consumed_total', help: 'Alert events taken from the stream, by outcome: done (acknowledged), retry (handed back until a retry is due; counted each time it comes back), ignored, unusable (dropped), error (endpoints not readable; handed back)', labelNames: ['outcome'], registers: [] });

  /** The dispatcher's observer (DispatcherOptions.observe). */
  readonly webhookAttempted = (attempt: WebhookAttempt): void => {
    this.webhookRequests.inc({ outcome: attempt.outcome });
    this.webhookSeconds.observe(attempt.durationMs / 1000);
  };

  constructor() {
    // Every outcome is shown from the start at 0, so that a rate or an alert on it has a series.
    for (const outcome of WEBHOOK_ATTEMPT_OUTCOMES) this.webhookRequests.inc({ outcome }, 0);
    for (const outcome of EVENT_OUTCOMES) this.events.inc({ outcome }, 0);
  }

  /** Counts an event taken from the stream. */
  eventConsumed(outcome: EventOutcome): void {
    this.events.inc({ outcome });
  }

  register(registry: Registry, read: AlertsGauges): void {
    for (const m of [this.webhookRequests, this.webhookSeconds, this.events] as Metric[]) registry.registerMetric(m);
    new Gauge({ name: 'alerts_events_in_flight', help: 'Alert events being delivered by this process', registers: [registry], collect() { this.set(read.eventsInFlight()); } });
    // One JetStream request per scrape serves both gauges below.
    let reading: Promise<ConsumerPosition | null> | null = null;
    const position = () => (reading ??= read.consumerPosition().catch(() => null).finally(() => (reading = null)));
    const consumerGauge = (name: string, help: string, value: (p: ConsumerPosition) => number) =>
      new Gauge({ name, help, registers: [registry], async collect() { const p = await position(); this.set(p ? value(p) : NaN); } });
    consumerGauge('alerts_consumer_pending', 'Events in the stream not handed to the consumer yet (all its processes); NaN when JetStream does not answer', (p) => p.pending);
    consumerGauge('alerts_consumer_unacknowledged', 'Events handed to the consumer (all its processes) and not acknowledged: being delivered or waiting for a retry; NaN when JetStream does not answer', (p) => p.unacknowledged);
  }
}
