import { Registry } from 'prom-client';
import { AlertsMetrics, ConsumerPosition } from './alerts.metrics';

describe('alert service metrics', () => {
  it('reads the consumer position once per scrape, and shows NaN when JetStream does not answer', async () => {
    const metrics = new AlertsMetrics();
    const registry = new Registry();
    let reads = 0;
    let answer: ConsumerPosition | null = { pending: 7, unacknowledged: 3 };
    metrics.register(registry, {
      eventsInFlight: () => 2,
      consumerPosition: async () => {
        reads++;
        if (!answer) throw new Error('no responders');
        return answer;
      },
    });
    metrics.webhookAttempted({ outcome: 'delivered', durationMs: 120 });

    const first = await registry.metrics();
    expect(reads).toBe(1);
    expect(first).toMatch(/^alerts_consumer_pending 7$/m);
    expect(first).toMatch(/^alerts_consumer_unacknowledged 3$/m);
    expect(first).toMatch(/^alerts_events_in_flight 2$/m);
    expect(first).toMatch(/^alerts_webhook_requests_total\{outcome="delivered"\} 1$/m);
    expect(first).toMatch(/^alerts_webhook_requests_total\{outcome="gave_up"\} 0$/m);
    expect(first).toMatch(/^alerts_webhook_request_seconds_bucket\{le="0.25"\} 1$/m);

    answer = null;
    const second = await registry.metrics();
    expect(reads).toBe(2);
    // prom-client writes `Nan`; Prometheus reads NaN in any case.
    expect(second).toMatch(/^alerts_consumer_pending nan$/im);
    expect(second).toMatch(/^alerts_consumer_unacknowledged nan$/im);
  });
});
