import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, InputError, LifecycleMessage, LifecycleSubjects, parseLifecycleMessage, Subjects } from '@billing/contracts';
import { BoundedConsumer, lifecycleStreamSpec, OutboxRelay } from '@billing/messaging';
import { RejectedLifecycleRepository } from '@billing/persistence';
import { JsMsg, Msg, NatsConnection } from 'nats';
import { BillingConfig } from '../config';
import { BillingMetrics } from '../billing.metrics';
import { CONFIG, NATS } from '../tokens';
import { Ownership } from '../ownership/ownership.service';
import { Peers, SUBJECT_HEADER } from '../ownership/peers';
import { rejectionAnnouncement, rejectionTarget } from './lifecycle-rejection';
import { lifecycleRetryDelayMs } from './lifecycle-retry';
import { LifecycleOutcome } from './resource.actor';
import { ResourceService } from './resource.service';

/** Messages handled at once; the consumer pulls more only as these finish. */
export const MAX_LIFECYCLE_IN_FLIGHT = 1000;
/**
 * Deliveries of one message before JetStream gives up on it: no limit (-1). A lifecycle message
 * is money (a RUNNING, a STOPPED); one that fails for a passing reason is delivered again, paced
 * by `lifecycleRetryDelayMs`, for as long as the reason lasts. One that can never be used is not
 * retried at all: it is recorded, announced and acknowledged at once.
 */
export const LIFECYCLE_MAX_DELIVER = -1;
/** Wait before consuming again after consuming ended (consumer or stream deleted, server restarted, ...). */
export const LIFECYCLE_RESTART_DELAY_MS = 2_000;

/**
 * The durable JetStream consumer of lifecycle events. A message is acknowledged only after its
 * effect is committed; one that cannot be used is recorded with the reason, announced to its
 * organization (`lifecycle_rejected`, in the same commit) and acknowledged.
 * Every engine process shares the consumer; a process that receives an event for an organization
 * another process owns has that process apply it, and acknowledges it by its answer.
 *
 * No `working()` heartbeat: a message held past the ack wait is delivered again meanwhile, which
 * costs a second look and nothing else (the resource actor dedupes it by `eventId`), and with no
 * delivery limit an extra delivery no longer uses up a message's chances.
 */
@Injectable()
export class LifecycleConsumer {
  private readonly logger = new Logger('LifecycleConsumer');
  private readonly consumer: BoundedConsumer;
  readonly subjects: LifecycleSubjects;
  applied = 0;
  rejected = 0;

  constructor(
    @Inject(CONFIG) config: BillingConfig,
    @Inject(NATS) nc: NatsConnection,
    private readonly resources: ResourceService,
    private readonly rejections: RejectedLifecycleRepository,
    private readonly relay: OutboxRelay,
    private readonly events: Subjects,
    private readonly metrics: BillingMetrics,
    private readonly ownership: Ownership,
    private readonly peers: Peers,
  ) {
    this.subjects = new LifecycleSubjects(config.lifecycleSubjectPrefix);
    this.consumer = new BoundedConsumer(nc, {
      logContext: 'LifecycleConsumer',
      stream: lifecycleStreamSpec(config.lifecycleStream, config.lifecycleSubjectPrefix, config.jetStreamReplicas),
      consumer: {
        name: config.lifecycleConsumer,
        ackWaitMs: 60_000,
        maxDeliver: LIFECYCLE_MAX_DELIVER,
        maxAckPending: 20_000,
        filterSubjects: [this.subjects.wildcard()],
        // A consumer made by an older engine or an operator keeps its settings (an operator may shorten the ack wait)
        // but a delivery limit: JetStream would drop a message after that many deliveries, unrecorded.
        owned: ['max_deliver'],
      },
      maxInFlight: MAX_LIFECYCLE_IN_FLIGHT,
      restartDelayMs: LIFECYCLE_RESTART_DELAY_MS,
      handle: (m) =>
        this.handle(m).catch((error) => {
          // A bug, not the message's fault: it comes back like any passing failure.
          this.logger.error({ msg: 'lifecycle event handling failed; redelivered later', subject: m.subject, error: String((error as Error)?.stack ?? error) });
          this.retryLater(m);
        }),
    });
  }

  start(): Promise<void> {
    return this.consumer.start();
  }

  /** Stops pulling and waits for the events under way, so the partitions handed over next hold no half-applied event. */
  stop(): Promise<void> {
    return this.consumer.stop();
  }

  private async handle(m: JsMsg): Promise<void> {
    let event;
    try {
      event = parseLifecycleMessage(this.subjects, m.subject, m.data);
    } catch (error) {
      if (error instanceof InputError) await this.reject(m, null, error.code, error.message);
      else await this.reject(m, null, ErrorCode.INTERNAL, `the message could not be read: ${String(error)}`);
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
        await this.reject(m, event.eventId, outcome.code, outcome.reason);
        return;
      case 'retry':
        this.logger.warn({ msg: 'lifecycle event not applied yet; redelivered later', subject: m.subject, eventId: event.eventId, deliveries: m.info.deliveryCount, reason: outcome.reason });
        this.metrics.lifecycle.inc({ outcome: 'retry' });
        this.retryLater(m);
    }
  }

  /** Hands the message back, to come again after a wait that grows with its deliveries. */
  private retryLater(m: JsMsg): void {
    try {
      m.nak(lifecycleRetryDelayMs(m.info.deliveryCount, Math.random));
    } catch {
      // The connection is gone: the server delivers it again after the ack wait anyway.
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
  async applyForwarded(msg: Msg): Promise<LifecycleOutcome> {
    let outcome: LifecycleOutcome;
    try {
      const event = parseLifecycleMessage(this.subjects, msg.headers?.get(SUBJECT_HEADER) ?? '', msg.data);
      outcome = this.ownership.route(event.orgId).kind === 'here' ? await this.resources.apply(event) : { kind: 'retry', reason: `organization ${event.orgId} is not served here any more` };
    } catch (error) {
      outcome = error instanceof InputError ? { kind: 'rejected', code: error.code, reason: error.message } : { kind: 'retry', reason: String((error as Error)?.message ?? error) };
    }
    return outcome;
  }

  /**
   * Records a message refused for good and, in the same commit, announces it to the organization
   * its subject names (`lifecycle_rejected`, which the alert service delivers to that
   * organization's webhooks). A subject that names no organization leaves no one to tell: the
   * message is recorded and counted (`outcome="rejected_unattributed"`) only. Acknowledged once
   * committed; a failed commit is a passing failure, retried like any other.
   */
  private async reject(m: JsMsg, eventId: string | null, code: string, reason: string): Promise<void> {
    const announcement = rejectionAnnouncement(
      this.events,
      this.subjects,
      { stream: m.info.stream, streamSequence: m.seq, subject: m.subject, data: m.data, lifecycleEventId: eventId, code, reason },
      new Date(),
    );
    let stored;
    try {
      const target = announcement && rejectionTarget(this.subjects, m.subject);
      stored = await this.rejections.record({ subject: m.subject, eventId, reason: `${code}: ${reason}`, payload: Buffer.from(m.data).toString('utf8') }, announcement && target && { orgId: target.orgId, message: announcement });
    } catch (error) {
      this.logger.warn({ msg: 'rejected lifecycle event not recorded yet; redelivered later', subject: m.subject, eventId, deliveries: m.info.deliveryCount, error: String((error as Error)?.message ?? error) });
      this.metrics.lifecycle.inc({ outcome: 'retry' });
      this.retryLater(m);
      return;
    }
    if (stored) this.relay.publish([stored]);
    this.rejected++;
    this.metrics.lifecycle.inc({ outcome: announcement ? 'rejected' : 'rejected_unattributed' });
    this.logger.warn({ msg: 'lifecycle event rejected', subject: m.subject, eventId, code, reason, announced: announcement !== null });
    m.ack();
  }
}
