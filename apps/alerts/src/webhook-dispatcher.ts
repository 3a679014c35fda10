import { AlertEvent } from './alert-event';
import { afterFailure, RetryPolicy } from './retry-policy';
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signWebhook } from './webhook-signature';

/** Wait before trying again when the database could not be read or written. */
export const STORE_RETRY_DELAY_MS = 2_000;
/** Successes whose record could not be written, remembered so the event is not POSTed again meanwhile. */
export const MAX_UNRECORDED_DELIVERIES = 10_000;
export const USER_AGENT = 'billing-alerts/1';

export interface WebhookEndpointRef {
  readonly id: string;
  readonly url: string;
  readonly secret: string;
}

export interface WebhookTargetRef {
  readonly endpoint: WebhookEndpointRef;
  readonly delivery: { readonly status: 'delivered' | 'failed'; readonly attempts: number; readonly firstAttemptAt: Date } | null;
  /** Why nothing can be sent there now (its secret cannot be opened): counted as a failed attempt, without a request. */
  readonly unusable?: string;
}

/** What the dispatcher needs from the database (WebhookRepository). */
export interface WebhookStore {
  targets(orgId: string, eventId: string): Promise<WebhookTargetRef[]>;
  recordDelivered(endpointId: string, eventId: string): Promise<void>;
  recordFailure(endpointId: string, eventId: string, error: string): Promise<{ attempts: number; firstAttemptAt: Date } | null>;
}

export interface PostResult {
  readonly ok: boolean;
  /** Why it failed, for the delivery record and the logs. */
  readonly error?: string;
}

export type WebhookPoster = (url: string, body: Uint8Array, headers: Record<string, string>, timeoutMs: number) => Promise<PostResult>;

export interface DispatcherLog {
  log(message: object): void;
  warn(message: object): void;
}

/**
 * What came of one webhook request: `delivered` (2xx), `retry` (failed, tried again later),
 * `gave_up` (failed, and the retry window is over) or `settled` (failed, but there is nothing
 * left to retry: another process delivered it meanwhile, or the endpoint was removed).
 */
export const WEBHOOK_ATTEMPT_OUTCOMES = ['delivered', 'retry', 'gave_up', 'settled'] as const;
export type WebhookAttemptOutcome = (typeof WEBHOOK_ATTEMPT_OUTCOMES)[number];

export interface WebhookAttempt {
  readonly outcome: WebhookAttemptOutcome;
  /** How long the request took, from sending to its answer (or timeout, or refusal). */
  readonly durationMs: number;
}

export interface DispatcherOptions {
  readonly retry: RetryPolicy;
  readonly requestTimeoutMs: number;
  /** The HTTP client; in the service, `guardedPoster` (webhook-poster.ts), which connects only to allowed addresses. */
  readonly post: WebhookPoster;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly log?: DispatcherLog;
  /** Told of every webhook request once its outcome is known (metrics); must not throw. */
  readonly observe?: (attempt: WebhookAttempt) => void;
}

/** `done`: every endpoint has the event or was given up on; the message may be acknowledged. */
export type DispatchOutcome =
  | { readonly kind: 'done'; readonly delivered: number; readonly gaveUp: number }
  | { readonly kind: 'retry'; readonly delayMs: number };

type EndpointOutcome =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'gave-up' }
  /** Nothing left to do there: another process delivered it meanwhile, or the endpoint was removed. */
  | { readonly kind: 'settled' }
  | { readonly kind: 'retry'; readonly delayMs: number };

/**
 * Delivers one event to every endpoint of its organization: at most once per endpoint after a
 * success (the `delivered` record is looked at before each POST), retried per the policy
 * otherwise. State lives in the database, so a restart resumes where the last process stopped.
 */
export class WebhookDispatcher {
  private readonly post: WebhookPoster;
  private readonly now: () => number;
  private readonly random: () => number;
  /** Key `endpointId|eventId`: a 2xx whose record failed; insertion order is age order. */
  private readonly unrecorded = new Map<string, true>();
  /** The latest dispatch of each event under way in this process. */
  private readonly underway = new Map<string, Promise<DispatchOutcome>>();

  constructor(private readonly store: WebhookStore, private readonly options: DispatcherOptions) {
    this.post = options.post;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /**
   * Throws if the endpoints cannot be read: the caller retries the whole event later.
   * JetStream may hand this process one event twice at once (a redelivery racing the first
   * delivery); the second waits for the first and then finds its `delivered` records.
   */
  dispatch(event: AlertEvent, body: Uint8Array): Promise<DispatchOutcome> {
    const prior = this.underway.get(event.eventId);
    const run = prior ? prior.catch(() => undefined).then(() => this.dispatchNow(event, body)) : this.dispatchNow(event, body);
    const tracked: Promise<DispatchOutcome> = run.finally(() => {
      if (this.underway.get(event.eventId) === tracked) this.underway.delete(event.eventId);
    });
    this.underway.set(event.eventId, tracked);
    return tracked;
  }

  private async dispatchNow(event: AlertEvent, body: Uint8Array): Promise<DispatchOutcome> {
    const targets = await this.store.targets(event.orgId, event.eventId);
    const outcomes = await Promise.all(targets.map((t) => this.deliverTo(t, event, body)));
    const delays = outcomes.flatMap((o) => (o.kind === 'retry' ? [o.delayMs] : []));
    // One message carries the event for all endpoints: it comes back when the soonest one is due.
    if (delays.length > 0) return { kind: 'retry', delayMs: Math.min(...delays) };
    return { kind: 'done', delivered: outcomes.filter((o) => o.kind === 'delivered').length, gaveUp: outcomes.filter((o) => o.kind === 'gave-up').length };
  }

  private async deliverTo(target: WebhookTargetRef, event: AlertEvent, body: Uint8Array): Promise<EndpointOutcome> {
    const { endpoint, delivery } = target;
    if (delivery?.status === 'delivered') return { kind: 'delivered' };
    const key = `${endpoint.id}|${event.eventId}`;
    if (this.unrecorded.has(key)) return this.record(key, endpoint.id, event.eventId);
    // No look at the retry window here: an event that comes back is always tried once more (the
    // last retry is placed at the window's end), and the window is judged after a failure.
    if (target.unusable !== undefined) {
      const outcome = await this.failed(target, event, target.unusable);
      this.options.observe?.({ outcome: outcome.kind === 'gave-up' ? 'gave_up' : outcome.kind === 'settled' ? 'settled' : 'retry', durationMs: 0 });
      return outcome;
    }

    const sentAtSeconds = Math.floor(this.now() / 1000);
    const headers = {
      'Content-Type': 'application/json',
      'User-Agent': USER_AGENT,
      [EVENT_ID_HEADER]: event.eventId,
      [EVENT_TYPE_HEADER]: event.type,
      [SIGNATURE_HEADER]: signWebhook(body, endpoint.secret, sentAtSeconds),
    };
    const startedAt = this.now();
    const result = await this.post(endpoint.url, body, headers, this.options.requestTimeoutMs);
    // The injected clock keeps this testable; a wall clock stepping back must not make it negative.
    const durationMs = Math.max(0, this.now() - startedAt);
    if (result.ok) {
      this.remember(key);
      // Delivered from the receiver's point of view, whether or not the record is written yet.
      this.options.observe?.({ outcome: 'delivered', durationMs });
      return this.record(key, endpoint.id, event.eventId);
    }
    const outcome = await this.failed(target, event, result.error ?? 'failed');
    this.options.observe?.({ outcome: outcome.kind === 'gave-up' ? 'gave_up' : outcome.kind === 'settled' ? 'settled' : 'retry', durationMs });
    return outcome;
  }

  private async record(key: string, endpointId: string, eventId: string): Promise<EndpointOutcome> {
    try {
      await this.store.recordDelivered(endpointId, eventId);
      this.unrecorded.delete(key);
      return { kind: 'delivered' };
    } catch (error) {
      this.options.log?.warn({ msg: 'webhook delivered but not recorded yet; it will not be sent again by this process', endpointId, eventId, error: String((error as Error)?.message ?? error) });
      return { kind: 'retry', delayMs: STORE_RETRY_DELAY_MS };
    }
  }

  private remember(key: string): void {
    this.unrecorded.set(key, true);
    if (this.unrecorded.size > MAX_UNRECORDED_DELIVERIES) this.unrecorded.delete(this.unrecorded.keys().next().value!);
  }

  private async failed(target: WebhookTargetRef, event: AlertEvent, error: string): Promise<EndpointOutcome> {
    const { endpoint, delivery } = target;
    let so: { attempts: number; firstAttemptAt: Date } | null;
    try {
      so = await this.store.recordFailure(endpoint.id, event.eventId, error);
      if (so === null) return { kind: 'settled' };
    } catch {
      // The schedule still holds without the record: it is only behind by this attempt.
      so = { attempts: (delivery?.attempts ?? 0) + 1, firstAttemptAt: delivery?.firstAttemptAt ?? new Date(this.now()) };
    }
    const decision = afterFailure(this.options.retry, so.attempts, so.firstAttemptAt.getTime(), this.now(), this.random);
    if (decision.kind === 'give-up') {
      this.options.log?.warn({ msg: 'webhook given up: recorded as failed', endpointId: endpoint.id, eventId: event.eventId, type: event.type, orgId: event.orgId, attempts: so.attempts, error });
      return { kind: 'gave-up' };
    }
    this.options.log?.log({ msg: 'webhook attempt failed; retried later', endpointId: endpoint.id, eventId: event.eventId, attempts: so.attempts, retryInMs: decision.delayMs, error });
    return decision;
  }
}
