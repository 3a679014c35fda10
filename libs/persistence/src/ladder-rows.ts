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
  | { readonly kind: 'delete'; readonly suspensionId: string; readonly at: Date };

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
}

const decimal = (v: string | null) => (v === null ? null : new Decimal(v));

/** The organization's overrides (none: every one null) and its running countdown, if any. */
export async function loadLadder(knex: Knex, orgId: string): Promise<{ ladder: LadderOverrides; storage: StorageSuspension | null }> {
  const [settings, suspensions] = await Promise.all([
    knex.raw('select min_runway_minutes, runway_marks, stop_overdraft, storage_debt_limit, storage_deletion_ms, storage_reminders_ms from ladder_settings where org_id = ?', [orgId]),
    knex.raw('select suspension_id, scheduled_at, delete_at, reminders_sent from storage_suspensions where org_id = ? and cancelled_at is null and deletion_requested_at is null', [orgId]),
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
    storage: s ? { id: s.suspension_id, scheduledAt: new Date(s.scheduled_at), deleteAt: new Date(s.delete_at), remindersSent: Number(s.reminders_sent) } : null,
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

/** Writes what a batch did to the countdown. A step on a countdown already ended writes nothing: the actor's copy was stale, and the commit is refused by its version first. */
export async function writeStorage(db: Knex | Knex.Transaction, orgId: string, w: StorageWrite): Promise<void> {
  switch (w.kind) {
    case 'schedule': {
      const s = w.suspension;
      await db.raw(`insert into storage_suspensions (org_id, suspension_id, scheduled_at, delete_at, reminders_sent) values (?, ?::uuid, ?, ?, 0) on conflict do nothing`, [orgId, s.id, s.scheduledAt, s.deleteAt]);
      return;
    }
    case 'remind':
      await db.raw(`update storage_suspensions set reminders_sent = greatest(reminders_sent, ?) where org_id = ? and suspension_id = ?::uuid`, [w.remindersSent, orgId, w.suspensionId]);
      return;
    case 'cancel':
      await db.raw(`update storage_suspensions set cancelled_at = ? where org_id = ? and suspension_id = ?::uuid and cancelled_at is null and deletion_requested_at is null`, [w.at, orgId, w.suspensionId]);
      return;
    case 'delete':
      await db.raw(`update storage_suspensions set deletion_requested_at = ? where org_id = ? and suspension_id = ?::uuid and cancelled_at is null and deletion_requested_at is null`, [w.at, orgId, w.suspensionId]);
      return;
  }
}
