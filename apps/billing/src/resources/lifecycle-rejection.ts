import { createHash } from 'crypto';
import { eventMessage, LifecycleSubjects, ORG_ID, Subjects } from '@billing/contracts';
import { OutboxMessage } from '@billing/persistence';

/** Longest reason an announcement carries, in characters (the stored row keeps its own limit). */
export const MAX_ANNOUNCED_REASON_CHARS = 1_000;

/** A lifecycle message refused for good, and where it sat in its stream. */
export interface LifecycleRejection {
  readonly stream: string;
  readonly streamSequence: number;
  readonly subject: string;
  readonly data: Uint8Array;
  /** The message's own `eventId`, if it could be read. */
  readonly lifecycleEventId: string | null;
  readonly code: string;
  readonly reason: string;
}

/**
 * The organization (and resource) a rejected message is told to: the one its subject names, the
 * subject being what the control plane's NATS permissions vouch for, not the body. A subject
 * that names no organization that could exist (`gpu.lifecycle.<orgId>` alone, an extra token,
 * an orgId no wallet can have) has no one to tell: null.
 */
export function rejectionTarget(lifecycle: LifecycleSubjects, subject: string): { orgId: string; resourceId: string } | null {
  const target = lifecycle.parse(subject);
  return target && ORG_ID.test(target.orgId) ? target : null;
}

/**
 * The announcement's id, derived from the message's place in its stream: a message rejected a
 * second time (its acknowledgement lost after the commit) is announced with the same id, which
 * JetStream's duplicate window and the alert service's per-event deliveries drop. A UUID in
 * form (version 8, "custom"), as every event id is.
 */
export function rejectionEventId(r: Pick<LifecycleRejection, 'stream' | 'streamSequence' | 'subject' | 'data'>): string {
  const h = createHash('sha256').update(`lifecycle_rejected\n${r.stream}\n${r.streamSequence}\n${r.subject}\n`).update(r.data).digest();
  h[6] = (h[6] & 0x0f) | 0x80;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** The `lifecycle_rejected` event for the subject's organization, or null when the subject names none. */
export function rejectionAnnouncement(events: Subjects, lifecycle: LifecycleSubjects, r: LifecycleRejection, now: Date): OutboxMessage | null {
  const target = rejectionTarget(lifecycle, r.subject);
  if (!target) return null;
  const body = {
    orgId: target.orgId,
    subject: r.subject,
    lifecycleEventId: r.lifecycleEventId,
    resourceId: target.resourceId,
    reason: r.reason.slice(0, MAX_ANNOUNCED_REASON_CHARS),
    code: r.code,
    at: now.toISOString(),
  };
  return eventMessage(events, target.orgId, 'lifecycle_rejected', body, rejectionEventId(r));
}
