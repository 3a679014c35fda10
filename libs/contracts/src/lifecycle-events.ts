import { GpuResource, LIFECYCLE_STATUSES, LifecycleStatus } from '@billing/domain';
import { ErrorCode, InputError } from './error-codes';
import { LifecycleSubjects } from './subjects';
import { KEY_RULE, ORG_ID, readJson, required, SERVICE, SKU, text, timestamp, TOKEN } from './request-fields';

/** Largest disk a resource may declare, in GB: anything larger is a mistake, not a disk. */
export const MAX_STORAGE_GB = 1_000_000;

/** A lifecycle message from the control plane (DESIGN.md section 5), checked. */
export interface LifecycleMessage extends Omit<GpuResource, 'storageGb'> {
  readonly eventId: string;
  readonly status: LifecycleStatus;
  readonly at: Date;
  /** Null when the message does not say (it then says nothing about the disk). */
  readonly storageGb: number | null;
}

/** Reads a lifecycle message; throws InputError with the reason it cannot be used. */
export function parseLifecycleMessage(subjects: LifecycleSubjects, subject: string, body: Uint8Array): LifecycleMessage {
  const target = subjects.parse(subject);
  if (!target) throw new InputError(ErrorCode.SUBJECT_MISMATCH, `'${subject}' is not ${subjects.prefix}.<orgId>.<resourceId>`);
  const input = readJson(body, false);
  const orgId = text(input, 'orgId', ORG_ID, '1-64 characters of letters, digits, _ or -');
  const resourceId = text(input, 'resourceId', TOKEN, KEY_RULE);
  if (orgId !== target.orgId || resourceId !== target.resourceId) {
    throw new InputError(ErrorCode.SUBJECT_MISMATCH, `the event names ${orgId}/${resourceId} but was published on ${subject}`);
  }
  const status = required(input, 'status');
  if (typeof status !== 'string' || !(LIFECYCLE_STATUSES as readonly string[]).includes(status)) {
    throw new InputError(ErrorCode.INVALID_FIELD, `'status' must be one of ${LIFECYCLE_STATUSES.join(', ')}`);
  }
  const storageGb = input.storageGb ?? null;
  if (storageGb !== null && (typeof storageGb !== 'number' || !Number.isInteger(storageGb) || storageGb < 0 || storageGb > MAX_STORAGE_GB)) {
    throw new InputError(ErrorCode.INVALID_FIELD, `'storageGb', when given, must be an integer from 0 to ${MAX_STORAGE_GB}`);
  }
  const at = timestamp(input, 'at');
  if (!at) throw new InputError(ErrorCode.MISSING_FIELD, "'at' is required");
  return {
    eventId: text(input, 'eventId', TOKEN, KEY_RULE),
    orgId,
    workspaceId: text(input, 'workspaceId', TOKEN, KEY_RULE),
    resourceId,
    service: text(input, 'service', SERVICE, 'a service name such as gpu-container'),
    sku: text(input, 'sku', SKU, 'a SKU such as h100-1x'),
    storageGb,
    status: status as LifecycleStatus,
    at,
  };
}
