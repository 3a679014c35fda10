import { Inject, Injectable, Logger } from '@nestjs/common';
import { InputError, LifecycleMessage, LifecycleSubjects, parseLifecycleMessage } from '@billing/contracts';
import { ensureStream } from '@billing/messaging';
import { ResourceRepository } from '@billing/persistence';
import { AckPolicy, ConsumerMessages, DeliverPolicy, JsMsg, Msg, nanos, NatsConnection } from 'nats';
import { BillingConfig } from '../config';
import { BillingMetrics } from '../billing.metrics';
import { CONFIG, NATS } from '../tokens';
import { Ownership } from '../ownership/ownership.service';
import { Peers, SUBJECT_HEADER } from '../ownership/peers';
import { LifecycleOutcome } from './resource.actor';
import { ResourceService } from './resource.service';

/** Messages handled at once; the consumer pulls more only as these finish. */
export const MAX_LIFECYCLE_IN_FLIGHT = 1000;
/** Deliveries of one message before JetStream gives up on it (a message that keeps failing is not retried forever). */
export const MAX_LIFECYCLE_DELIVERIES = 20;
const RETRY_DELAY_MS = 2000;

/**
 * The durable JetStream consumer of lifecycle events. A message is acknowledged only after its
 * effect is committed; one that cannot be used is recorded with the reason and acknowledged.
 * Every engine process shares the consumer; a process that receives an event for an organization
 * another process owns has that process apply it, and acknowledges it by its answer.
 */
@Injectable()
export class LifecycleConsumer {
  private readonly logger = new Logger('LifecycleConsumer');
  private messages: ConsumerMessages | null = null;
  private running: Promise<void> | null = null;
  private inFlight = 0;
  private wake: (() => void) | null = null;
  readonly subjects: LifecycleSubjects;
  applied = 0;
  rejected = 0;

  constructor(
    @Inject(CONFIG) private readonly config: BillingConfig,
    @Inject(NATS) private readonly nc: NatsConnection,
    private readonly resources: ResourceService,
    private readonly repository: ResourceRepository,
    private readonly metrics: BillingMetrics,
    private readonly ownership: Ownership,
    private readonly peers: Peers,
  ) {
    this.subjects = new LifecycleSubjects(config.lifecycleSubjectPrefix);
  }

  async start(): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    await ensureStream(jsm, { name: this.config.lifecycleStream, subjects: [this.subjects.wildcard()], duplicateWindowMs: 2 * 60_000, maxAgeMs: 30 * 86_400_000 });
    try {
      await jsm.consumers.info(this.config.lifecycleStream, this.config.lifecycleConsumer);
    } catch {
      await jsm.consumers.add(this.config.lifecycleStream, {
        durable_name: this.config.lifecycleConsumer,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(60_000),
        max_deliver: MAX_LIFECYCLE_DELIVERIES,
        max_ack_pending: 20_000,
        filter_subject: this.subjects.wildcard(),
      });
    }
    const consumer = await this.nc.jetstream().consumers.get(this.config.lifecycleStream, this.config.lifecycleConsumer);
    this.messages = await consumer.consume({ max_messages: MAX_LIFECYCLE_IN_FLIGHT });
    this.running = this.loop(this.messages);
  }

  async stop(): Promise<void> {
    this.messages?.stop();
    this.wake?.();
    await this.running;
  }

  private async loop(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      while (this.inFlight >= MAX_LIFECYCLE_IN_FLIGHT) await new Promise<void>((r) => (this.wake = r));
      this.inFlight++;
      void this.handle(m).finally(() => {
        this.inFlight--;
        const w = this.wake;
        this.wake = null;
        w?.();
      });
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    let event;
    try {
      event = parseLifecycleMessage(this.subjects, m.subject, m.data);
    } catch (error) {
      const reason = error instanceof InputError ? `${error.code}: ${error.message}` : `unreadable: ${String(error)}`;
      await this.reject(m, null, reason);
      return;
    }
    const outcome = await this.outcomeOf(event, m);
    switch (outcome.kind) {
      case 'applied':
      case 'duplicate':
        this.applied++;
        this.metrics.lifecycle.inc({ outcome: outcome.kind });
        m.ack();
        return;
      case 'rejected':
        await this.reject(m, event.eventId, `${outcome.code}: ${outcome.reason}`);
        return;
      case 'retry':
        this.logger.warn({ msg: 'lifecycle event not applied yet; redelivered later', subject: m.subject, eventId: event.eventId, reason: outcome.reason });
        this.metrics.lifecycle.inc({ outcome: 'retry' });
        m.nak(RETRY_DELAY_MS);
    }
  }

  /** Applies the event here if its organization is served here, else at the process serving it. */
  private async outcomeOf(event: LifecycleMessage, m: JsMsg): Promise<LifecycleOutcome> {
    const route = this.ownership.route(event.orgId);
    if (route.kind === 'here') return this.resources.apply(event);
    if (route.kind === 'moving') return { kind: 'retry', reason: `organization ${event.orgId} is moving between engine processes` };
    try {
      const answer = await this.peers.forward('lifecycle', route.node, 'lifecycle', m.data, m.subject);
      return JSON.parse(Buffer.from(answer).toString('utf8')) as LifecycleOutcome;
    } catch (error) {
      return { kind: 'retry', reason: `the process serving organization ${event.orgId} did not answer: ${String((error as Error)?.message ?? error)}` };
    }
  }

  /** A lifecycle message another process received for an organization served here: applied, and the outcome answered. */
  async applyForwarded(msg: Msg): Promise<void> {
    let outcome: LifecycleOutcome;
    try {
      const event = parseLifecycleMessage(this.subjects, msg.headers?.get(SUBJECT_HEADER) ?? '', msg.data);
      outcome = this.ownership.route(event.orgId).kind === 'here' ? await this.resources.apply(event) : { kind: 'retry', reason: `organization ${event.orgId} is not served here any more` };
    } catch (error) {
      outcome = error instanceof InputError ? { kind: 'rejected', code: error.code, reason: error.message } : { kind: 'retry', reason: String((error as Error)?.message ?? error) };
    }
    msg.respond(Buffer.from(JSON.stringify(outcome)));
  }

  private async reject(m: JsMsg, eventId: string | null, reason: string): Promise<void> {
    try {
      // Stored as text: a NUL byte (which Postgres text cannot hold) is kept escaped.
      await this.repository.reject(m.subject, eventId, reason, Buffer.from(m.data).toString('utf8').replace(/\u0000/g, '\\u0000'));
      this.rejected++;
      this.metrics.lifecycle.inc({ outcome: 'rejected' });
      this.logger.warn({ msg: 'lifecycle event rejected', subject: m.subject, eventId, reason });
      m.ack();
    } catch {
      m.nak(RETRY_DELAY_MS);
    }
  }
}
