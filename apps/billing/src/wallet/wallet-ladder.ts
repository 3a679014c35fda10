/**
 * The enforcement ladder's storage step, as a wallet batch decides it: stopped resources' storage
 * bills on into a debt of at most STORAGE_DEBT_LIMIT; when the total falls to minus it, a countdown
 * to deleting their stored data begins (`storage_suspension_scheduled`), reminders go out before its
 * end, a top-up that brings the total back to zero or more cancels it, and at its end one
 * `delete_storage` command per resource with storage not deleted goes to the control plane (one
 * still running is stopped and deleted: its stop was asked for long before). Pure: the actor reads
 * the stored resources first when a deletion is due.
 */
import {
  controlCommandMessage,
  DELETE_REASON_STORAGE_DEBT_UNPAID,
  deleteStorageCommandId,
  eventMessage,
  StorageCountdownBody,
  storageEventId,
  storageSuspensionId,
  Subjects,
} from '@billing/contracts';
import { Decimal, LadderSettings, remindersOf, storageDebtPaid, storageDebtReached, storageDue, StorageSuspension, toDisplay, toExact, WalletState } from '@billing/domain';
import { OutboxMessage, StopRecord, StorageWrite } from '@billing/persistence';

/** A resource whose stored data a deletion covers. */
export interface StoredResource {
  readonly resourceId: string;
  readonly workspaceId: string;
}

export interface StorageStep {
  readonly messages: OutboxMessage[];
  readonly stops: StopRecord[];
  readonly write: StorageWrite | null;
  /** The countdown after the batch (running, or its deletion unpaid), if any. */
  readonly after: StorageSuspension | null;
}

const NOTHING = (s: StorageSuspension | null): StorageStep => ({ messages: [], stops: [], write: null, after: s });

/**
 * The storage step of one batch. `before`/`after`: the total and the settings in force before and
 * after it (a `ladder.set` may lower the limit under a total already in debt: that is a crossing
 * too). `stored`: the stopped resources with storage, read by the actor when the deletion is due.
 */
export function storageStep(args: {
  orgId: string;
  subjects: Subjects;
  state: WalletState;
  totalBefore: Decimal;
  totalAfter: Decimal;
  settingsBefore: LadderSettings;
  settings: LadderSettings;
  running: StorageSuspension | null;
  moneyMoved: boolean;
  stored: readonly StoredResource[] | null;
  now: Date;
}): StorageStep {
  const { orgId, subjects, state, totalAfter, settings, running, now } = args;
  const at = now.toISOString();
  const currency = state.currency;
  const total = currency ? toDisplay(totalAfter, currency) : toExact(totalAfter);
  const body = (s: StorageSuspension) => ({ orgId, suspensionId: s.id, currency, total, deleteAt: s.deleteAt.toISOString(), at });
  // A deletion already asked for and then the debt paid: the organization no longer stands there (no event: the deletion was announced).
  if (running?.deletionRequestedAt && args.moneyMoved && storageDebtPaid(totalAfter)) return { messages: [], stops: [], write: { kind: 'settle', suspensionId: running.id, at: now }, after: null };
  if (running && !running.deletionRequestedAt && args.moneyMoved && storageDebtPaid(totalAfter)) {
    return {
      messages: [eventMessage(subjects, orgId, 'storage_suspension_cancelled', { ...body(running), seq: state.seq, exact: { total: toExact(totalAfter) } }, storageEventId('storage_suspension_cancelled', running.id))],
      stops: [],
      write: { kind: 'cancel', suspensionId: running.id, at: now },
      after: null,
    };
  }
  if (running && !running.deletionRequestedAt) return dueStep(args, running, body);
  // None running (a deletion unpaid may stand: a new crossing supersedes it).
  const reached = storageDebtReached({ total: args.totalBefore, limit: args.settingsBefore.storageDebtLimit }, { total: totalAfter, limit: settings.storageDebtLimit });
  if (!reached || currency === null) return NOTHING(running);
  const suspension: StorageSuspension = { id: storageSuspensionId(orgId, state.seq, now.getTime()), scheduledAt: now, deleteAt: new Date(now.getTime() + settings.storageDeletionMs), remindersSent: 0, deletionRequestedAt: null };
  return {
    messages: [
      eventMessage(
        subjects,
        orgId,
        'storage_suspension_scheduled',
        { ...body(suspension), seq: state.seq, exact: { total: toExact(totalAfter), storageDebtLimit: toExact(settings.storageDebtLimit) } },
        storageEventId('storage_suspension_scheduled', suspension.id),
      ),
    ],
    stops: [],
    write: { kind: 'schedule', suspension },
    after: suspension,
  };
}

/** Whether a running countdown needs the engine at `now` (a reminder or the deletion): the actor then decides a batch even with nothing else to commit. */
export function storageDueAt(s: StorageSuspension | null, settings: LadderSettings, now: Date): { reminders: number[]; delete: boolean } | null {
  if (!s || s.deletionRequestedAt) return null;
  const due = storageDue(s, remindersOf(settings, s.deleteAt.getTime() - s.scheduledAt.getTime()), now.getTime());
  return due.delete || due.reminders.length > 0 ? due : null;
}

/** A running countdown's reminder (only the latest due: a process down for days does not send the older ones late) or its deletion. */
function dueStep(args: Parameters<typeof storageStep>[0], s: StorageSuspension, body: (s: StorageSuspension) => StorageCountdownBody): StorageStep {
  const { orgId, subjects, settings, now } = args;
  const due = storageDueAt(s, settings, now);
  if (!due) return NOTHING(s);
  const exact = { total: toExact(args.totalAfter) };
  if (!due.delete) {
    const reminder = due.reminders[due.reminders.length - 1];
    return {
      messages: [eventMessage(subjects, orgId, 'storage_suspension_reminder', { ...body(s), reminder, exact }, storageEventId('storage_suspension_reminder', s.id, String(reminder)))],
      stops: [],
      write: { kind: 'remind', suspensionId: s.id, remindersSent: reminder },
      after: { ...s, remindersSent: reminder },
    };
  }
  // The actor reads the stored resources before deciding a due deletion: none read, nothing decided.
  if (args.stored === null) return NOTHING(s);
  const at = now.toISOString();
  const messages: OutboxMessage[] = [];
  const stops: StopRecord[] = [];
  for (const r of args.stored) {
    const commandId = deleteStorageCommandId(orgId, r.resourceId, s.id);
    const reason = DELETE_REASON_STORAGE_DEBT_UNPAID;
    messages.push(controlCommandMessage(subjects, 'delete_storage', { commandId, orgId, resourceId: r.resourceId, reason, at }));
    messages.push(eventMessage(subjects, orgId, 'storage_deletion_requested', { orgId, suspensionId: s.id, commandId, resourceId: r.resourceId, workspaceId: r.workspaceId, reason, at }, storageEventId('storage_deletion_requested', s.id, r.resourceId)));
    stops.push({ commandId, command: 'delete_storage', resourceId: r.resourceId, reason, requestedAt: now });
  }
  return { messages, stops, write: { kind: 'delete', suspensionId: s.id, at: now }, after: { ...s, deletionRequestedAt: now } };
}
