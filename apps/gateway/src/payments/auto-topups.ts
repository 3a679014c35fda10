import { randomUUID } from 'crypto';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EventBodies, eventMessage, readEvent } from '@billing/contracts';
import { AutoTopupTrigger, BalancePoint, Decimal, isBelowTrigger, toMinorUnits, toPaymentText } from '@billing/domain';
import { AutoTopupAttempt, AutoTopupRepository, AutoTopupSettings, TopupRepository } from '@billing/persistence';
import { NatsConnection, Subscription } from 'nats';
import { GATEWAY_NATS } from '../tokens';
import { BillingClient } from '../wallet/billing.client';
import { PaymentsConfig } from './payments.config';
import { PAYMENTS_CONFIG } from './payments.tokens';
import { ProviderError } from './provider-call';
import { STRIPE_CLIENT, StripeClient, StripePaymentIntent } from './provider-clients';
import { readStripeIntentReports } from './stripe-settlement';
import { TopupSettlement } from './topup-settlement';
import { TOPUP_DAILY_WINDOW_MS } from './topup-limits';

/** How often each gateway reads which organizations have auto top-up on (changes made through another gateway). */
export const AUTO_TOPUP_REFRESH_MS = 5_000;
/** Attempts the sweep looks at per run (left charging by a stopped gateway, alerts not yet published). */
export const AUTO_TOPUP_SWEEP_BATCH = 100;
/**
 * How long a charge whose outcome is unknown (Stripe unreachable) is asked again before it counts
 * as failed: well within the 24 hours Stripe keeps an idempotency key.
 */
export const OUTCOME_UNKNOWN_LIMIT_MS = 6 * 3_600_000;
/** Balance changes of one organization waiting to be looked at in this process; past it the oldest are dropped (only the latest balance decides a crossing). */
export const MAX_PENDING_CHANGES_PER_ORG = 1_000;
/** How long a JetStream publish of the failure alert may wait for its acknowledgement. */
const ALERT_PUBLISH_TIMEOUT_MS = 5_000;

/** Refusals that do not say the charge failed: whether Stripe took it is not known yet. */
const OUTCOME_UNKNOWN = new Set<string>(['unavailable', 'rate_limited', 'conflict']);

/** Payment intent states in which Stripe has the charge (taken, or a bank debit under way). */
const SUBMITTED_STATES = new Set(['succeeded', 'processing', 'requires_capture']);

/** One balance change of an organization, as a trigger reads it. */
export type BalanceChange = { readonly seq: number; readonly point: BalancePoint };

/**
 * Safe auto top-up. Every gateway process watches every balance change (`billing.events.*.balance`,
 * core NATS) of the organizations with auto top-up on, in order per organization, and hands
 * those that may matter (below the trigger, or at/above it while a crossing may need re-arming)
 * to `AutoTopupRepository.decide`, which decides under the organization's row lock, so that every
 * process and every redelivery agrees on one attempt per crossing, keyed `autotopup:<org>:<seq>`.
 * A charge is a Stripe off-session PaymentIntent with that key (so a retry, or the sweep after a
 * crash, gets the same PaymentIntent); Stripe's answer settles the top-up intent through
 * TopupSettlement, the webhooks' path, so the engine is credited once (`topup:<id>`). A failure
 * turns auto top-up off, records why and publishes `auto_topup_failed` (durable: JetStream,
 * deduplicated by its event id, and re-published by the sweep until acknowledged).
 */
@Injectable()
export class AutoTopups implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('AutoTopup');
  private triggers = new Map<string, AutoTopupTrigger>();
  /** Settings saved or turned off in this process, by the refresh generation they were made in: a refresh started before them does not undo them. */
  private readonly localChanges = new Map<string, { readonly generation: number; readonly trigger: AutoTopupTrigger | null }>();
  private generation = 0;
  private readonly lastSeen = new Map<string, number>();
  private readonly queues = new Map<string, BalanceChange[]>();
  private readonly running = new Set<Promise<unknown>>();
  /** Attempts this process is charging now: the sweep leaves them to it. */
  private readonly charging = new Set<string>();
  private subscription: Subscription | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly repository: AutoTopupRepository,
    private readonly topups: TopupRepository,
    private readonly settlement: TopupSettlement,
    private readonly billing: BillingClient,
    @Inject(STRIPE_CLIENT) private readonly stripe: StripeClient,
    @Inject(PAYMENTS_CONFIG) private readonly config: PaymentsConfig,
    @Inject(GATEWAY_NATS) private readonly nc: NatsConnection,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.refresh().catch((error) => this.logger.warn({ msg: 'auto top-up settings not read; retried', error: (error as Error).message }));
    this.subscription = this.nc.subscribe(this.billing.subjects.event('*', 'balance'), { callback: (error, msg) => !error && this.observe(msg.subject, msg.data) });
    // Balance changes are live NATS messages: those made while no gateway listened (down, or cut
    // off from NATS) are gone, and a crossing among them would wait for the next change, which
    // may never come (the GPUs stopped). So every organization with auto top-up on is read again
    // at start and whenever the connection comes back.
    this.lookAgainAtAll();
    void this.lookAgainOnReconnect();
    this.refreshTimer = setInterval(() => void this.refresh().catch(() => undefined), AUTO_TOPUP_REFRESH_MS);
    this.refreshTimer.unref();
    this.sweepTimer = setInterval(() => this.tick(), this.config.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.subscription?.unsubscribe();
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.sweeping;
    await Promise.allSettled([...this.running]);
  }

  /** Reads which organizations have auto top-up on, and their triggers (changes made here meanwhile win over the read). */
  async refresh(): Promise<void> {
    const since = ++this.generation;
    const read = await this.repository.enabled();
    for (const [orgId, change] of this.localChanges) {
      if (change.generation < since) this.localChanges.delete(orgId);
      else if (change.trigger) read.set(orgId, change.trigger);
      else read.delete(orgId);
    }
    this.triggers = read;
  }

  /** The settings were saved here: looked at from now on, and the balance as it stands is looked at at once. */
  async enabled(settings: AutoTopupSettings): Promise<void> {
    this.triggers.set(settings.orgId, settings.trigger);
    this.localChanges.set(settings.orgId, { generation: this.generation, trigger: settings.trigger });
    const reply = await this.billing.request(settings.orgId, 'balance');
    // Looked at even if this process saw that seq already: the settings are armed again.
    if (reply.ok && reply.balance && typeof reply.balance.seq === 'number') this.track(this.look(settings.orgId, { seq: reply.balance.seq, point: pointOf(reply.balance) }));
  }

  /** Reads the balance of every organization with auto top-up on and looks at it as a change. */
  private lookAgainAtAll(): void {
    for (const orgId of this.triggers.keys()) {
      this.track(
        this.billing.request(orgId, 'balance').then((reply) => {
          if (reply.ok && reply.balance && typeof reply.balance.seq === 'number') this.enqueue(orgId, reply.balance.seq, pointOf(reply.balance), true);
        }),
      );
    }
  }

  private async lookAgainOnReconnect(): Promise<void> {
    for await (const s of this.nc.status()) if (s.type === 'reconnect' && !this.stopped) this.lookAgainAtAll();
  }

  disabled(orgId: string): void {
    this.triggers.delete(orgId);
    this.localChanges.set(orgId, { generation: this.generation, trigger: null });
  }

  private observe(subject: string, data: Uint8Array): void {
    if (this.stopped) return;
    // The subject names the organization: most have no auto top-up, and their events are not even parsed.
    const target = this.billing.subjects.parseEvent(subject);
    if (!target || !this.triggers.has(target.orgId)) return;
    const read = readEvent(this.billing.subjects, subject, data);
    if (read.kind !== 'event' || read.event.type !== 'balance') return;
    const event = read.event as EventBodies['balance'] & { orgId: string };
    if (!this.triggers.has(event.orgId) || typeof event.seq !== 'number') return;
    this.enqueue(event.orgId, event.seq, pointOf(event));
  }

  /** One organization's changes are looked at one after the other, in seq order, each once in this process. */
  private enqueue(orgId: string, seq: number, point: BalancePoint, again = false): void {
    // A change read again may carry a seq this process saw: looked at all the same (its decision was maybe lost with the connection).
    if (seq < (this.lastSeen.get(orgId) ?? -1) || (!again && seq === this.lastSeen.get(orgId))) return;
    this.lastSeen.set(orgId, seq);
    const queue = this.queues.get(orgId);
    if (queue) {
      if (queue.length >= MAX_PENDING_CHANGES_PER_ORG) queue.shift();
      queue.push({ seq, point });
      return;
    }
    this.queues.set(orgId, [{ seq, point }]);
    this.track(this.drain(orgId));
  }

  private async drain(orgId: string): Promise<void> {
    const queue = this.queues.get(orgId)!;
    try {
      while (queue.length && !this.stopped) {
        const change = queue.shift()!;
        await this.look(orgId, change).catch((error) => this.logger.warn({ msg: 'balance change not looked at for auto top-up', orgId, seq: change.seq, error: (error as Error).message }));
      }
    } finally {
      this.queues.delete(orgId);
    }
  }

  /** Looks at one balance change; a charge it decides runs on, so the organization's next changes are not held up. */
  async look(orgId: string, change: BalanceChange): Promise<void> {
    const limit = this.config.limits;
    const settings = await this.repository.find(orgId);
    if (!settings || !settings.enabled) return;
    // At or above the trigger while armed, or below it while disarmed: nothing to decide (and nothing to write).
    const below = isBelowTrigger(settings.trigger, change.point);
    if (below !== settings.armed) return;
    const l = limit[settings.currency];
    const decision = await this.repository.decide(orgId, change.seq, change.point, new Date(), { min: l.min, max: l.max, dailyMax: l.dailyMax, dailyWindowMs: TOPUP_DAILY_WINDOW_MS, paymentWindowMs: this.config.windows.stripeMs }, randomUUID);
    if (decision.kind === 'skipped') this.logger.log({ msg: 'auto top-up crossing charged nothing', orgId, seq: change.seq, reason: decision.attempt.reason });
    if (decision.kind === 'charge') this.track(this.charge(decision.attempt, decision.settings));
  }

  /** Asks Stripe for the attempt's one charge (again, after a crash: the same key gets the same PaymentIntent), then settles it. */
  async charge(attempt: AutoTopupAttempt, settings: AutoTopupSettings): Promise<void> {
    if (this.charging.has(attempt.id)) return;
    this.charging.add(attempt.id);
    try {
      await this.chargeOnce(attempt, settings);
    } finally {
      this.charging.delete(attempt.id);
    }
  }

  private async chargeOnce(attempt: AutoTopupAttempt, settings: AutoTopupSettings): Promise<void> {
    const amount = attempt.amount!;
    let pi: StripePaymentIntent;
    try {
      pi = await this.stripe.chargeOffSession({
        topupId: attempt.id,
        orgId: attempt.orgId,
        amountMinor: toMinorUnits(amount, attempt.currency),
        currency: attempt.currency,
        customer: settings.stripeCustomer,
        paymentMethod: settings.stripePaymentMethod,
        idempotencyKey: attempt.idempotencyKey,
      });
    } catch (error) {
      const kind = error instanceof ProviderError ? error.kind : 'unavailable';
      // Unavailable (a timeout, a reset, Stripe down), rate limited, or a conflict (the same key in
      // flight: another gateway's sweep, or a slow first call): Stripe may have charged the card all the
      // same. The attempt stays charging, and the sweep asks again with the same idempotency key,
      // which Stripe answers with the first outcome, until OUTCOME_UNKNOWN_LIMIT_MS: only then is
      // it a failure. Never "failed" while the money may be taken.
      if (OUTCOME_UNKNOWN.has(kind) && Date.now() - attempt.createdAt.getTime() < OUTCOME_UNKNOWN_LIMIT_MS) {
        this.logger.warn({ msg: 'auto top-up charge outcome unknown; asked again by the sweep with the same key', orgId: attempt.orgId, topupId: attempt.id, error: (error as Error).message });
        return;
      }
      return this.fail(attempt, kind, (error as Error).message);
    }
    if (!SUBMITTED_STATES.has(pi.status)) return this.fail(attempt, 'declined', `stripe payment_intent ${pi.status}${pi.failureMessage ? `: ${pi.failureMessage}` : ''}`);
    await this.repository.markSubmitted(attempt.id, pi.id);
    this.logger.log({ msg: 'auto top-up charged', orgId: attempt.orgId, topupId: attempt.id, amount: toPaymentText(amount, attempt.currency), currency: attempt.currency, paymentIntent: pi.id, status: pi.status });
    // Stripe's answer is a report like its webhook's: a succeeded PaymentIntent credits once, whichever arrives first.
    for (const report of readStripeIntentReports(pi, new Date())) await this.settlement.applyReport('stripe', report);
  }

  /** The charge failed: auto top-up goes off with the reason, the top-up intent fails, and the organization is alerted. */
  private async fail(attempt: AutoTopupAttempt, code: string, message: string): Promise<void> {
    const reason = `${code}: ${message}`;
    this.logger.warn({ msg: 'auto top-up failed; auto top-up turned off', orgId: attempt.orgId, topupId: attempt.id, reason });
    const marked = await this.repository.markFailed(attempt.id, attempt.orgId, reason, randomUUID());
    this.disabled(attempt.orgId);
    const intent = await this.topups.findById(attempt.id);
    if (intent) await this.settlement.applyFact(intent, { key: `autotopup:${attempt.id}:failed`, at: new Date(), input: { kind: 'attempt_failed', reason: `auto top-up: ${reason}`.slice(0, 500) } });
    if (!marked) return;
    const failed = await this.repository.findAttempt(attempt.id);
    if (failed) await this.publishAlert(failed).catch((error) => this.logger.warn({ msg: 'auto_topup_failed not published; the sweep will', topupId: attempt.id, error: (error as Error).message }));
  }

  /** `auto_topup_failed` to the events stream, with the event id recorded with the failure (a repeat is deduplicated by it). */
  private async publishAlert(attempt: AutoTopupAttempt): Promise<void> {
    const reason = attempt.reason ?? '';
    const body: EventBodies['auto_topup_failed'] = {
      orgId: attempt.orgId,
      attemptId: attempt.id,
      crossingSeq: attempt.crossingSeq,
      amount: attempt.amount === null ? '0' : toPaymentText(attempt.amount, attempt.currency),
      currency: attempt.currency,
      code: reason.split(':')[0] || 'failed',
      reason,
      at: attempt.createdAt.toISOString(),
    };
    const message = eventMessage(this.billing.subjects, attempt.orgId, 'auto_topup_failed', body, attempt.alertEventId!);
    await this.nc.jetstream().publish(message.subject, Buffer.from(message.payload), { msgID: message.eventId, timeout: ALERT_PUBLISH_TIMEOUT_MS });
    await this.repository.markAlertPublished(attempt.id);
  }

  private tick(): void {
    if (this.sweeping || this.stopped) return;
    this.sweeping = this.sweep()
      .then(() => undefined)
      .catch((error) => this.logger.warn({ msg: 'auto top-up sweep failed', error: (error as Error).message }))
      .finally(() => (this.sweeping = null));
  }

  /** Finishes what a stopped gateway left: attempts still charging (charged again with their key), alerts not yet published. */
  async sweep(): Promise<number> {
    const due = await this.repository.unfinished(this.config.sweepMinAgeMs, AUTO_TOPUP_SWEEP_BATCH);
    for (const attempt of due) {
      if (attempt.status === 'charging') {
        const settings = await this.repository.find(attempt.orgId);
        if (settings) await this.charge(attempt, settings);
      } else if (attempt.status === 'submitted') {
        // Stripe took it, then the payment failed (its webhook, or reconciliation, said so).
        await this.fail(attempt, 'declined', attempt.topupFailureReason ?? `the top-up ${attempt.topupStatus}`);
      } else if (attempt.alertEventId && !attempt.alertPublishedAt) {
        await this.publishAlert(attempt).catch((error) => this.logger.warn({ msg: 'auto_topup_failed not published yet', topupId: attempt.id, error: (error as Error).message }));
      }
    }
    return due.length;
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((error) => this.logger.warn({ msg: 'auto top-up step failed', error: (error as Error).message })).finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }
}

/** Where a balance stands for a trigger: the exact total (never the rounded one) and the runway. */
function pointOf(balance: { exact?: { total?: unknown }; total?: unknown; runwaySeconds?: unknown }): BalancePoint {
  const exact = typeof balance.exact?.total === 'string' ? balance.exact.total : String(balance.total ?? '0');
  return { exactTotal: new Decimal(exact), runwaySeconds: typeof balance.runwaySeconds === 'number' ? balance.runwaySeconds : null };
}
