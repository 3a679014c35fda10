import { createHash } from 'crypto';
import { ControlCommandName, Subjects } from './subjects';

/** Why the engine asks for a stop: what the organization has available reached the stop threshold. */
export const STOP_REASON_AVAILABLE_EXHAUSTED = 'available_exhausted';
/** Why the engine asks to delete stored data: the storage debt reached its limit and was not paid before the deletion date. */
export const DELETE_REASON_STORAGE_DEBT_UNPAID = 'storage_debt_unpaid';

/**
 * A command to the control plane, on `<prefix>.control.<orgId>.<command>` (the control stream).
 * `stop`: the control plane stops the resource and reports STOPPED on its lifecycle subject, as for
 * any stop. `delete_storage`: it deletes the stopped resource's stored data and reports DELETED.
 * The same `commandId` comes again (every STOP_REPEAT_MS) until that STOPPED (DELETED) is
 * committed: the control plane acts once per `commandId`.
 */
export interface StopCommand {
  readonly commandId: string;
  readonly orgId: string;
  readonly resourceId: string;
  readonly reason: string;
  /** When the engine decided it (the batch that crossed). */
  readonly at: string;
}

/**
 * The id of the stop of `resourceId` decided by the organization's batch of `seq` decided at
 * `atMs`: the same for that batch decided again at that instant, another for any other batch. The
 * instant is part of it because a crossing made by a hold alone moves no money: a GPU stopped and
 * started again crosses again at the same seq, and must get a new command (a wallet's batches are
 * decided at strictly later instants, `WalletActor.instant`). A UUID in form (version 8,
 * "custom"), as every event id is.
 */
export function stopCommandId(orgId: string, resourceId: string, seq: number, atMs: number): string {
  return derivedUuid(`stop\n${orgId}\n${resourceId}\n${seq}\n${atMs}\n`);
}

/** The id of the `gpu_stop_requested` event announcing the command `commandId`. */
export function stopAnnouncementId(commandId: string): string {
  return derivedUuid(`gpu_stop_requested\n${commandId}\n`);
}

/** The id of the deletion of `resourceId`'s stored data ending the countdown `suspensionId`: one per resource and countdown. */
export function deleteStorageCommandId(orgId: string, resourceId: string, suspensionId: string): string {
  return derivedUuid(`delete_storage\n${orgId}\n${resourceId}\n${suspensionId}\n`);
}

/** The id of a storage countdown begun by the organization's batch of `seq` decided at `atMs` (as `stopCommandId`). */
export function storageSuspensionId(orgId: string, seq: number, atMs: number): string {
  return derivedUuid(`storage_suspension\n${orgId}\n${seq}\n${atMs}\n`);
}

/** The id of a storage countdown's event `type` (its `n`th reminder; a deletion request's resource). */
export function storageEventId(type: string, suspensionId: string, detail = ''): string {
  return derivedUuid(`${type}\n${suspensionId}\n${detail}\n`);
}

/** The message of a control command; `messageId` is JetStream's (the command's id, or a repeat's). */
export function controlCommandMessage(subjects: Subjects, name: ControlCommandName, command: StopCommand, messageId: string = command.commandId): { eventId: string; subject: string; payload: string } {
  return { eventId: messageId, subject: subjects.control(command.orgId, name), payload: JSON.stringify(command) };
}

/** The message of a stop command. */
export function stopCommandMessage(subjects: Subjects, command: StopCommand, messageId: string = command.commandId): { eventId: string; subject: string; payload: string } {
  return controlCommandMessage(subjects, 'stop', command, messageId);
}

/** A UUID (version 8, "custom") derived from `text`: the same text, the same id, whichever process makes it. */
export function derivedUuid(text: string): string {
  const h = createHash('sha256').update(text).digest();
  h[6] = (h[6] & 0x0f) | 0x80;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
