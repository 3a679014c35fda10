/**
 * The enforcement ladder's rows: an organization's overrides (`ladder_settings`) and its running
 * storage countdown (`storage_suspensions`), read with its wallet and written in the commit of the
 * batch that changed them (WalletRepository.commit), in the same transaction.
 */
import { Decimal, LadderOverrides, NO_OVERRIDES, StorageSuspension } from '@billing/domain';
import { Knex } from '@mikro-orm/postgresql';

/** What a batch does to the organization's storage countdown. */
export type StorageWrite =
  | { readonly kind: 'schedule'; readonly suspension: StorageSuspension }
  | { readonly kind: 'remind'; readonly suspensionId: string; readonly remindersSent: number }
  | { readonly kind: 'cancel'; readonly suspensionId: string; readonly at: Date }
  | { readonly kind: 'delete'; readonly suspensionId: string; readonly at: Date }
  /** The debt paid after the deletion: the countdown is over. */
  | { readonly kind: 'settle'; readonly suspensionId: string; readonly at: Date };

interface LadderRow {
  min_runway_minutes: number | null;
  runway_marks: number[] | null;
  stop_overdraft: string | null;
  storage_debt_limit: string | null;
  storage_deletion_ms: string | null;
  storage_reminders_ms: string[] | null;
}

interface SuspensionRow {
  suspension_id: string;
  scheduled_at: Date | string;
  delete_at: Date | string;
  reminders_sent: number;
  deletion_requested_at: Date | string | null;
}

const decimal = (v: string | null) => (v === null ? null : new Decimal(v));

/** The organization's overrides (none: every one null) and its countdown, if one runs, or its deletion unpaid. */
export async function loadLadder(knex: Knex, orgId: string): Promise<{ ladder: LadderOverrides; storage: StorageSuspension | null }> {
  const [settings, suspensions] = await Promise.all([
    knex.raw('select min_runway_minutes, runway_marks, stop_overdraft, storage_debt_limit, storage_deletion_ms, storage_reminders_ms from ladder_settings where org_id = ?', [orgId]),
    knex.raw(
      `select suspension_id, scheduled_at, delete_at, reminders_sent, deletion_requested_at from storage_suspensions
       where org_id = ? and cancelled_at is null and settled_at is null order by (deletion_requested_at is null) desc, scheduled_at desc limit 1`,
      [orgId],
    ),
  ]);
  const r = (settings.rows as LadderRow[])[0];
  const s = (suspensions.rows as SuspensionRow[])[0];
  return {
    ladder: r
      ? {
          minRunwayMinutes: r.min_runway_minutes,
          runwayMarks: r.runway_marks,
          stopOverdraft: decimal(r.stop_overdraft),
          storageDebtLimit: decimal(r.storage_debt_limit),
          storageDeletionMs: r.storage_deletion_ms === null ? null : Number(r.storage_deletion_ms),
          storageRemindersMs: r.storage_reminders_ms === null ? null : r.storage_reminders_ms.map(Number),
        }
      : NO_OVERRIDES,
    storage: s
      ? {
          id: s.suspension_id,
          scheduledAt: new Date(s.scheduled_at),
          deleteAt: new Date(s.delete_at),
          remindersSent: Number(s.reminders_sent),
          deletionRequestedAt: s.deletion_requested_at === null ? null : new Date(s.deletion_requested_at),
        }
      : null,
  };
}

/** Writes the overrides as they now are (all null: the row goes). */
export async function writeLadder(db: Knex | Knex.Transaction, orgId: string, o: LadderOverrides): Promise<void> {
  if (Object.values(o).every((v) => v === null)) {
    await db.raw('delete from ladder_settings where org_id = ?', [orgId]);
    return;
  }
  await db.raw(
    `insert into ladder_settings (org_id, min_runway_minutes, runway_marks, stop_overdraft, storage_debt_limit, storage_deletion_ms, storage_reminders_ms, updated_at)
     values (?, ?::int, ?::int[], ?::numeric, ?::numeric, ?::bigint, ?::bigint[], now())
     on conflict (org_id) do update set min_runway_minutes = excluded.min_runway_minutes, runway_marks = excluded.runway_marks, stop_overdraft = excluded.stop_overdraft, storage_debt_limit = excluded.storage_debt_limit,
       storage_deletion_ms = excluded.storage_deletion_ms, storage_reminders_ms = excluded.storage_reminders_ms, updated_at = now()`,
    [
      orgId,
      o.minRunwayMinutes,
      o.runwayMarks === null ? null : `{${o.runwayMarks.join(',')}}`,
      o.stopOverdraft?.toFixed() ?? null,
      o.storageDebtLimit?.toFixed() ?? null,
      o.storageDeletionMs,
      o.storageRemindersMs === null ? null : `{${o.storageRemindersMs.join(',')}}`,
    ],
  );
}

/**
 * Writes what a batch did to the countdown. Each write must change exactly one row: the batch's
 * events and commands are in the same transaction, and a countdown not as the actor believed it
 * (which the wallet's version already rules out) rolls it all back rather than announce a step
 * that was not recorded.
 */
export async function writeStorage(db: Knex | Knex.Transaction, orgId: string, w: StorageWrite): Promise<void> {
  const running = 'org_id = ? and suspension_id = ?::uuid and cancelled_at is null and settled_at is null and deletion_requested_at is null';
  let result: { rowCount: number | null };
  switch (w.kind) {
    case 'schedule': {
      const s = w.suspension;
      // A deletion still unpaid is superseded by the new countdown.
      await db.raw(`update storage_suspensions set settled_at = ? where org_id = ? and cancelled_at is null and settled_at is null and deletion_requested_at is not null`, [s.scheduledAt, orgId]);
      result = await db.raw(`insert into storage_suspensions (org_id, suspension_id, scheduled_at, delete_at, reminders_sent) values (?, ?::uuid, ?, ?, 0)`, [orgId, s.id, s.scheduledAt, s.deleteAt]);
      break;
    }
    case 'remind':
      result = await db.raw(`update storage_suspensions set reminders_sent = ? where ${running} and reminders_sent < ?`, [w.remindersSent, orgId, w.suspensionId, w.remindersSent]);
      break;
    case 'cancel':
      result = await db.raw(`update storage_suspensions set cancelled_at = ? where ${running}`, [w.at, orgId, w.suspensionId]);
      break;
    case 'delete':
      result = await db.raw(`update storage_suspensions set deletion_requested_at = ? where ${running}`, [w.at, orgId, w.suspensionId]);
      break;
    case 'settle':
      result = await db.raw(`update storage_suspensions set settled_at = ? where org_id = ? and suspension_id = ?::uuid and cancelled_at is null and settled_at is null and deletion_requested_at is not null`, [w.at, orgId, w.suspensionId]);
      break;
  }
  if (result.rowCount !== 1) throw new Error(`storage countdown ${w.kind} of ${orgId}: ${result.rowCount} rows changed, not 1; nothing of the batch is committed`);
}
