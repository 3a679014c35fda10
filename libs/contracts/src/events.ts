import { randomUUID } from 'crypto';
import { Currency } from '@billing/domain';
import { EVENT_TYPES, EventType, Subjects } from './subjects';
import { BalanceSnapshot } from './wallet-replies';
import { derivedUuid } from './control-commands';

/** A resource that was running when its organization's balance ran out. */
export interface RunningResource {
  readonly resourceId: string;
  readonly workspaceId: string;
  readonly service: string;
  readonly sku: string;
}

/**
 * The events the engine publishes on `<prefix>.events.<orgId>.<type>` (DESIGN.md section 5), each
 * type's body: the one map the engine writes them by and the gateway, the alert service and the
 * simulator read them by. Amounts are exact decimal strings; `total` strings are rounded for
 * display, with the unrounded value in `exact`.
 */
export interface EventBodies {
  /**
   * Every change of the wallet: the snapshot `balance` answers, and `previousSeq`, the wallet's
   * seq before the batch it announces (or its seq when announcing a wallet just loaded). Published
   * on core NATS after the commit, not kept: a reader that has seen an older seq than
   * `previousSeq` missed one and reads the balance again.
   */
  readonly balance: BalanceSnapshot & { readonly previousSeq: number };
  /** Once per downward crossing of a threshold, re-armed when the balance rises above it. */
  readonly low_balance: {
    readonly orgId: string;
    readonly seq: number;
    readonly currency: Currency | null;
    readonly threshold: string;
    readonly total: string;
    readonly exact: { readonly total: string };
    readonly runwaySeconds: number | null;
    readonly at: string;
  };
  /** The total reached zero or less, with what was running then. */
  readonly depleted: {
    readonly orgId: string;
    readonly seq: number;
    readonly currency: Currency | null;
    readonly total: string;
    readonly exact: { readonly total: string };
    readonly runningResources: readonly RunningResource[];
    readonly at: string;
  };
  /** A grant expired: what was left of it is written off (`amount`, positive). */
  readonly grant_expired: {
    readonly orgId: string;
    readonly seq: number;
    readonly grantId: string | null;
    readonly service: string | null;
    readonly amount: string;
    readonly currency: Currency;
    readonly at: string;
  };
  /** A grant with credit left expires within the notice period (once per grant). */
  readonly grant_expiring: {
    readonly orgId: string;
    readonly seq: number;
    readonly grantId: string;
    readonly kind: string;
    readonly service: string | null;
    readonly remaining: string;
    readonly currency: Currency;
    readonly expiresAt: string | undefined;
    readonly at: string;
  };
  /** A lifecycle message of the organization was refused for good. */
  readonly lifecycle_rejected: {
    readonly orgId: string;
    readonly subject: string;
    readonly lifecycleEventId: string | null;
    readonly resourceId: string;
    readonly reason: string;
    readonly code: string;
    readonly at: string;
  };
  /**
   * A workspace's spend this UTC month (`month`, YYYY-MM) reached `threshold` percent of its
   * monthly cap: written in the commit of the batch whose charge crossed it, once per crossing.
   */
  readonly workspace_budget_reached: {
    readonly orgId: string;
    readonly workspaceId: string;
    readonly threshold: '80' | '100';
    readonly spent: string;
    readonly cap: string;
    readonly currency: Currency;
    readonly month: string;
    readonly at: string;
  };
  /**
   * An auto top-up was refused by the payment provider (declined, or the provider down past the
   * retries): auto top-up is now off for the organization until it is set again. Published by the
   * gateway, which charges auto top-ups; `attemptId` is the top-up's id.
   */
  readonly auto_topup_failed: {
    readonly orgId: string;
    readonly attemptId: string;
    readonly crossingSeq: number;
    readonly amount: string;
    readonly currency: Currency;
    /** The provider's refusal: `declined`, `unavailable`, `invalid`, ... */
    readonly code: string;
    readonly reason: string;
    readonly at: string;
  };
  /**
   * The runway (time to zero at the current burn) fell below `markSeconds` (RUNWAY_MARKS): once per
   * crossing until a top-up re-arms it; its id is derived from the organization, the mark and the
   * newest top-up (`runwayLowEventId`), so the same warning made again (after a restart, say) is
   * the same event, which JetStream and the alert service drop.
   */
  readonly runway_low: {
    readonly orgId: string;
    readonly seq: number;
    readonly currency: Currency | null;
    readonly markSeconds: number;
    readonly runwaySeconds: number | null;
    readonly total: string;
    readonly burnRatePerHour: string;
    readonly exact: { readonly total: string; readonly burnRatePerHour: string };
    readonly at: string;
  };
  /**
   * The engine published a stop command for a running GPU (`available` reached the stop
   * threshold): the command itself is on `billing.control.<orgId>.stop` with this `commandId`.
   */
  readonly gpu_stop_requested: {
    readonly orgId: string;
    readonly seq: number;
    readonly commandId: string;
    readonly resourceId: string;
    readonly workspaceId: string;
    readonly sku: string;
    readonly reason: string;
    readonly currency: Currency | null;
    readonly exact: { readonly available: string; readonly threshold: string };
    readonly at: string;
  };
  /**
   * The total fell to minus the storage debt limit (STORAGE_DEBT_LIMIT): stored data of stopped
   * resources is deleted at `deleteAt` unless a top-up brings the total back to zero or more first.
   */
  readonly storage_suspension_scheduled: StorageCountdownBody & { readonly seq: number; readonly exact: { readonly total: string; readonly storageDebtLimit: string } };
  /** A reminder before the deletion (STORAGE_REMINDER_DAYS): `reminder` counts them from 1. */
  readonly storage_suspension_reminder: StorageCountdownBody & { readonly reminder: number; readonly exact: { readonly total: string } };
  /** The debt was paid (the total is zero or more): the countdown is over, nothing is deleted. */
  readonly storage_suspension_cancelled: StorageCountdownBody & { readonly seq: number; readonly exact: { readonly total: string } };
  /** The deletion date came: a `delete_storage` command went to the control plane for this stopped resource. */
  readonly storage_deletion_requested: {
    readonly orgId: string;
    readonly suspensionId: string;
    readonly commandId: string;
    readonly resourceId: string;
    readonly workspaceId: string;
    readonly reason: string;
    readonly at: string;
  };
}

/** What every event of a storage countdown says. */
export interface StorageCountdownBody {
  readonly orgId: string;
  readonly suspensionId: string;
  readonly currency: Currency | null;
  readonly total: string;
  readonly deleteAt: string;
  readonly at: string;
}

/** Every event type has a body, and every body a type: a new one is added in both places. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const EVERY_TYPE_HAS_A_BODY: Same<EventType, keyof EventBodies> = true;
void EVERY_TYPE_HAS_A_BODY;

/** An event as it travels: its id (a UUID, what deliveries are deduplicated by), its type, its body. */
export type BillingEvent<T extends EventType = EventType> = T extends EventType ? { readonly eventId: string; readonly type: T } & EventBodies[T] : never;

/** An event ready to be written to the outbox: its id, its subject, its JSON. */
export interface EventMessage {
  readonly eventId: string;
  readonly subject: string;
  readonly payload: string;
}

/** The id of the `runway_low` warning of `markSeconds` since the top-up `topupGrantId` (null: none yet). */
export function runwayLowEventId(orgId: string, markSeconds: number, topupGrantId: string | null): string {
  return derivedUuid(`runway_low\n${orgId}\n${markSeconds}\n${topupGrantId ?? ''}\n`);
}

/** The message of an event of `orgId` (a new id unless one is given: a redelivery must keep its id). */
export function eventMessage<T extends EventType>(subjects: Subjects, orgId: string, type: T, body: EventBodies[T], eventId: string = randomUUID()): EventMessage {
  return { eventId, subject: subjects.event(orgId, type), payload: JSON.stringify({ eventId, type, ...body }) };
}

export type ReadEvent =
  | { readonly kind: 'event'; readonly event: BillingEvent }
  /** Not an event subject of this prefix, or a type this engine does not publish. */
  | { readonly kind: 'ignore' }
  /** An event subject, but a body that cannot be read as its event: never usable, however often it is read. */
  | { readonly kind: 'unusable'; readonly reason: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads an event from `<prefix>.events.<orgId>.<type>`. The subject decides the organization and
 * type (only the engine may publish there: NATS permissions); the body must agree with both and
 * carry a UUID `eventId`. The rest of the body is the engine's, as `EventBodies` says.
 */
export function readEvent(subjects: Subjects, subject: string, data: Uint8Array): ReadEvent {
  const target = subjects.parseEvent(subject);
  if (!target || !(EVENT_TYPES as readonly string[]).includes(target.type)) return { kind: 'ignore' };
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8'));
  } catch {
    return { kind: 'unusable', reason: 'the body is not JSON' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { kind: 'unusable', reason: 'the body is not a JSON object' };
  const { eventId, type, orgId } = body as Record<string, unknown>;
  if (typeof eventId !== 'string' || !UUID.test(eventId)) return { kind: 'unusable', reason: "'eventId' is missing or not a UUID" };
  if (type !== target.type) return { kind: 'unusable', reason: `'type' is ${JSON.stringify(type)}, the subject says ${target.type}` };
  if (orgId !== target.orgId) return { kind: 'unusable', reason: `'orgId' is ${JSON.stringify(orgId)}, the subject says ${target.orgId}` };
  return { kind: 'event', event: body as BillingEvent };
}
