import { EventType, readEvent, Subjects } from '@billing/contracts';

/**
 * The billing events an organization is alerted about; `balance` snapshots are not alerts.
 * `lifecycle_rejected`: a lifecycle message of the organization the engine refused for good;
 * `auto_topup_failed`: an auto top-up failed and was turned off (the gateway's);
 * `gpu_stop_requested`: the engine asked the control plane to stop a running GPU;
 * `workspace_budget_reached`: a workspace's spend this month reached 80% or 100% of its cap;
 * `runway_low`: the time to zero at the current burn fell below a mark;
 * `storage_suspension_scheduled`, `storage_suspension_reminder`, `storage_suspension_cancelled`,
 * `storage_deletion_requested`: the ladder's countdown to deleting stored data, each step.
 */
export const ALERT_EVENT_TYPES = [
  'low_balance',
  'depleted',
  'grant_expired',
  'lifecycle_rejected',
  'auto_topup_failed',
  'gpu_stop_requested',
  'workspace_budget_reached',
  'runway_low',
  'storage_suspension_scheduled',
  'storage_suspension_reminder',
  'storage_suspension_cancelled',
  'storage_deletion_requested',
] as const satisfies readonly EventType[];
export type AlertEventType = (typeof ALERT_EVENT_TYPES)[number];

export interface AlertEvent {
  readonly eventId: string;
  readonly type: AlertEventType;
  readonly orgId: string;
}

export type ReadAlert =
  | { readonly kind: 'alert'; readonly event: AlertEvent }
  /** Not ours (a `balance` event, when the server could not filter it out). */
  | { readonly kind: 'ignore' }
  /** Ours by subject but unusable: it can never be delivered, however often it is read. */
  | { readonly kind: 'unusable'; readonly reason: string };

function isAlertType(type: string): type is AlertEventType {
  return (ALERT_EVENT_TYPES as readonly string[]).includes(type);
}

/** JetStream filter subjects of the alert events under `prefix`. */
export function alertSubjects(prefix: string): string[] {
  return ALERT_EVENT_TYPES.map((type) => `${prefix}.events.*.${type}`);
}

/**
 * Reads an alert event from `<prefix>.events.<orgId>.<type>` (`readEvent`: the subject decides the
 * organization and type, the body must agree and carry a UUID `eventId`, the key deliveries are
 * deduplicated by); events that are not alerts are ignored.
 */
export function readAlertEvent(prefix: string, subject: string, data: Uint8Array): ReadAlert {
  const subjects = new Subjects(prefix);
  const type = subjects.parseEvent(subject)?.type;
  if (type === undefined || !isAlertType(type)) return { kind: 'ignore' };
  const read = readEvent(subjects, subject, data);
  if (read.kind !== 'event') return read;
  return { kind: 'alert', event: { eventId: read.event.eventId.toLowerCase(), type, orgId: read.event.orgId } };
}
