import { EventType } from '@billing/contracts';

/**
 * The billing events an organization is alerted about; `balance` snapshots are not alerts.
 * `lifecycle_rejected`: a lifecycle message of the organization the engine refused for good.
 */
export const ALERT_EVENT_TYPES = ['low_balance', 'depleted', 'grant_expired', 'lifecycle_rejected'] as const satisfies readonly EventType[];
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isAlertType(type: string): type is AlertEventType {
  return (ALERT_EVENT_TYPES as readonly string[]).includes(type);
}

/** JetStream filter subjects of the alert events under `prefix`. */
export function alertSubjects(prefix: string): string[] {
  return ALERT_EVENT_TYPES.map((type) => `${prefix}.events.*.${type}`);
}

/**
 * Reads an event from `<prefix>.events.<orgId>.<type>`. The subject decides the organization
 * and type (it is what the stream filtered on); the body must agree and carry a UUID `eventId`,
 * the key deliveries are deduplicated by.
 */
export function readAlertEvent(prefix: string, subject: string, data: Uint8Array): ReadAlert {
  const head = `${prefix}.events.`;
  if (!subject.startsWith(head)) return { kind: 'ignore' };
  const parts = subject.slice(head.length).split('.');
  if (parts.length !== 2 || !isAlertType(parts[1])) return { kind: 'ignore' };
  const [orgId, type] = parts as [string, AlertEventType];
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8'));
  } catch {
    return { kind: 'unusable', reason: 'the body is not JSON' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { kind: 'unusable', reason: 'the body is not a JSON object' };
  const { eventId, type: bodyType, orgId: bodyOrgId } = body as Record<string, unknown>;
  if (typeof eventId !== 'string' || !UUID.test(eventId)) return { kind: 'unusable', reason: "'eventId' is missing or not a UUID" };
  if (bodyType !== type) return { kind: 'unusable', reason: `'type' is ${JSON.stringify(bodyType)}, the subject says ${type}` };
  if (bodyOrgId !== orgId) return { kind: 'unusable', reason: `'orgId' is ${JSON.stringify(bodyOrgId)}, the subject says ${orgId}` };
  return { kind: 'alert', event: { eventId: eventId.toLowerCase(), type, orgId } };
}
