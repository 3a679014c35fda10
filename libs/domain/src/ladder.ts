/**
 * The enforcement ladder: what an organization running out of money goes through, step by step
 * (warn, block launches, stop GPUs, then schedule the deletion of stored data), and its settings:
 * the engine's defaults, and each organization's overrides.
 */
import { DAY_MS } from './metering';
import { Decimal, ZERO } from './money';
import { MAX_RUNWAY_MARKS, MAX_RUNWAY_MARK_SECONDS } from './runway';

/** The settings of one organization's ladder, in force. */
export interface LadderSettings {
  /** Block launches: `authorize` refuses a GPU when what is available does not cover this many minutes of its rate. */
  readonly minRunwayMinutes: number;
  /** `runway_low` marks, seconds, highest first. */
  readonly runwayMarks: readonly number[];
  /** GPUs are sent a stop when `available` falls to minus this. */
  readonly stopOverdraft: Decimal;
  /** Storage bills on into a debt of at most this: when the total falls to minus this, its deletion is scheduled. */
  readonly storageDebtLimit: Decimal;
  /** How long after the storage debt reached its limit stored data is deleted (unless paid). */
  readonly storageDeletionMs: number;
  /** Reminders this long before the deletion, longest first (one longer than the countdown is not sent). */
  readonly storageRemindersMs: readonly number[];
}

/** An organization's overrides: each null keeps the engine's default. */
export type LadderOverrides = { readonly [K in keyof LadderSettings]: LadderSettings[K] | null };

export const NO_OVERRIDES: LadderOverrides = { minRunwayMinutes: null, runwayMarks: null, stopOverdraft: null, storageDebtLimit: null, storageDeletionMs: null, storageRemindersMs: null };

export function ladderSettings(defaults: LadderSettings, overrides: LadderOverrides): LadderSettings {
  return {
    minRunwayMinutes: overrides.minRunwayMinutes ?? defaults.minRunwayMinutes,
    runwayMarks: overrides.runwayMarks ?? defaults.runwayMarks,
    stopOverdraft: overrides.stopOverdraft ?? defaults.stopOverdraft,
    storageDebtLimit: overrides.storageDebtLimit ?? defaults.storageDebtLimit,
    storageDeletionMs: overrides.storageDeletionMs ?? defaults.storageDeletionMs,
    storageRemindersMs: overrides.storageRemindersMs ?? defaults.storageRemindersMs,
  };
}

/** Longest minimum runway a launch may be asked for (a week, in minutes). */
export const MAX_MIN_RUNWAY_MINUTES = 10_080;
/** Longest deletion countdown (a year) and most reminders a ladder takes. */
export const MAX_STORAGE_DELETION_DAYS = 365;
export const MAX_STORAGE_REMINDERS = 10;
/** Largest overdraft or storage debt limit, in the wallet's currency. */
export const MAX_LADDER_AMOUNT = new Decimal(1_000_000);

const DAYS = /^(0|[1-9][0-9]{0,2})(\.[0-9]{1,6})?$/;
const AMOUNT = /^(0|[1-9][0-9]{0,6})(\.[0-9]{1,8})?$/;

/** Days as text ("7", "0.5", "0.0002": fractions for tests and short countdowns) to milliseconds; null if not 0 < days <= 365 with at most 6 decimals. */
export function parseDays(text: string): number | null {
  if (!DAYS.test(text)) return null;
  const days = new Decimal(text);
  if (days.lessThanOrEqualTo(ZERO) || days.greaterThan(MAX_STORAGE_DELETION_DAYS)) return null;
  return days.times(DAY_MS).round().toNumber();
}

/** Comma-separated days (`STORAGE_REMINDER_DAYS`), each as `parseDays`, at most 10, no repeats; longest first. Empty: none. */
export function parseDaysList(text: string): number[] | null {
  if (text.trim() === '') return [];
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length > MAX_STORAGE_REMINDERS) return null;
  const ms = parts.map(parseDays);
  if (ms.some((m) => m === null) || new Set(ms).size !== ms.length) return null;
  return (ms as number[]).sort((a, b) => b - a);
}

/** A ladder amount (overdraft, storage debt limit): 0 to 1,000,000, at most 8 decimals; null otherwise (the storage debt limit must also be above 0: `ladderRefusal`). */
export function parseLadderAmount(text: string): Decimal | null {
  if (!AMOUNT.test(text)) return null;
  const d = new Decimal(text);
  return d.greaterThan(MAX_LADDER_AMOUNT) ? null : d;
}

/**
 * Why settings in force make no ladder, or null: the storage debt limit above 0 (a total of 0 is a
 * debt paid, not one reached) and at least the stop overdraft (GPUs are stopped before stored data
 * is threatened).
 */
export function ladderRefusal(s: LadderSettings): string | null {
  if (!s.storageDebtLimit.greaterThan(ZERO)) return `the storage debt limit must be above 0 (it is ${s.storageDebtLimit.toFixed()})`;
  if (s.storageDebtLimit.lessThan(s.stopOverdraft)) return `the storage debt limit (${s.storageDebtLimit.toFixed()}) must be at least the stop overdraft (${s.stopOverdraft.toFixed()}): GPUs are stopped before stored data is threatened`;
  return null;
}

/** Runway marks as seconds: whole, 1 s to 30 days, at most 10, no repeats; highest first, or null. */
export function checkRunwayMarks(marks: readonly number[]): number[] | null {
  if (marks.length > MAX_RUNWAY_MARKS || new Set(marks).size !== marks.length) return null;
  if (marks.some((m) => !Number.isInteger(m) || m < 1 || m > MAX_RUNWAY_MARK_SECONDS)) return null;
  return [...marks].sort((a, b) => b - a);
}

/**
 * A countdown to the deletion of an organization's stored data: running until the debt is paid
 * (cancelled) or `deleteAt` comes (the deletion asked for, `deletionRequestedAt`); after a
 * deletion, kept as where the organization stands until the debt is paid (settled).
 */
export interface StorageSuspension {
  readonly id: string;
  readonly scheduledAt: Date;
  readonly deleteAt: Date;
  /** Reminders already sent (of the ladder's `storageRemindersMs` that fit the countdown, longest first). */
  readonly remindersSent: number;
  readonly deletionRequestedAt: Date | null;
}

/**
 * The total went in one batch from above minus the limit to at or below it: storage is in debt
 * past its bound. Each side with the limit in force then (lowering the limit under a total already
 * in debt is a crossing too).
 */
export function storageDebtReached(before: { total: Decimal; limit: Decimal }, after: { total: Decimal; limit: Decimal }): boolean {
  return before.total.greaterThan(before.limit.negated()) && after.total.lessThanOrEqualTo(after.limit.negated());
}

/** A countdown is cancelled when the total is back to zero or more: the debt is paid. */
export function storageDebtPaid(totalAfter: Decimal): boolean {
  return totalAfter.greaterThanOrEqualTo(ZERO);
}

/** The reminder offsets that fit a countdown of `countdownMs` (shorter than it), longest first. */
export function remindersOf(settings: Pick<LadderSettings, 'storageRemindersMs'>, countdownMs: number): number[] {
  return settings.storageRemindersMs.filter((r) => r < countdownMs);
}

/**
 * Where a countdown stands at `nowMs`: the reminders due and not yet sent (their 1-based numbers
 * among `remindersOf`), and whether the deletion is due.
 */
export function storageDue(s: StorageSuspension, reminders: readonly number[], nowMs: number): { reminders: number[]; delete: boolean } {
  const deleteMs = s.deleteAt.getTime();
  if (nowMs >= deleteMs) return { reminders: [], delete: true };
  const due: number[] = [];
  reminders.forEach((offset, i) => {
    if (i + 1 > s.remindersSent && nowMs >= deleteMs - offset) due.push(i + 1);
  });
  return { reminders: due, delete: false };
}

/** When the countdown next needs the engine: its next reminder or its deletion. */
export function storageNextDue(s: StorageSuspension, reminders: readonly number[]): Date {
  const next = reminders[s.remindersSent];
  return new Date(s.deleteAt.getTime() - (next ?? 0));
}

export type LadderStep = 'ok' | 'runway_low' | 'gpus_stopped' | 'storage_deletion_scheduled' | 'storage_deleted';

/**
 * Where the organization stands, highest step first: stored data deleted for a debt still unpaid,
 * a deletion countdown running, GPUs stopped
 * (available at or below minus the overdraft), the runway below a mark; else ok. Launches are
 * blocked per SKU (`authorize`), so they are no step of their own here.
 */
export function ladderStep(args: { available: Decimal; runwaySeconds: number | null; settings: LadderSettings; storage: StorageSuspension | null }): { step: LadderStep; runwayMarkSeconds: number | null } {
  const { runwaySeconds: runway, settings } = args;
  const below = runway === null ? [] : settings.runwayMarks.filter((m) => runway < m);
  const runwayMarkSeconds = below.length > 0 ? Math.min(...below) : null;
  if (args.storage) return { step: args.storage.deletionRequestedAt ? 'storage_deleted' : 'storage_deletion_scheduled', runwayMarkSeconds };
  if (args.available.lessThanOrEqualTo(settings.stopOverdraft.negated())) return { step: 'gpus_stopped', runwayMarkSeconds };
  return { step: runwayMarkSeconds !== null ? 'runway_low' : 'ok', runwayMarkSeconds };
}
