import { createHash } from 'crypto';
import { Subjects } from './subjects';

/** Why the engine asks for a stop: what the organization has available reached the stop threshold. */
export const STOP_REASON_AVAILABLE_EXHAUSTED = 'available_exhausted';

/**
 * A stop command, on `<prefix>.control.<orgId>.stop` (the control stream): the control plane stops
 * the resource and reports STOPPED on its lifecycle subject, as for any stop. The same `commandId`
 * comes again (every STOP_REPEAT_MS) until that STOPPED is committed: the control plane acts once
 * per `commandId`.
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

/** The message of a stop command; `messageId` is JetStream's (the command's id, or a repeat's). */
export function stopCommandMessage(subjects: Subjects, command: StopCommand, messageId: string = command.commandId): { eventId: string; subject: string; payload: string } {
  return { eventId: messageId, subject: subjects.control(command.orgId, 'stop'), payload: JSON.stringify(command) };
}

/** A UUID (version 8, "custom") derived from `text`: the same text, the same id, whichever process makes it. */
export function derivedUuid(text: string): string {
  const h = createHash('sha256').update(text).digest();
  h[6] = (h[6] & 0x0f) | 0x80;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
