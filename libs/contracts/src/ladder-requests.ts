/**
 * `ladder.set` (an operator's, audited): one organization's overrides of the enforcement ladder's
 * settings, and `ladder.get`'s view of them. Throws InputError.
 */
import { checkRunwayMarks, DAY_MS, Decimal, LadderOverrides, LadderSettings, MAX_MIN_RUNWAY_MINUTES, MAX_STORAGE_DELETION_DAYS, parseDays, parseLadderAmount, StorageSuspension, toExact } from '@billing/domain';
import { ErrorCode, InputError } from './error-codes';

/** Fields `ladder.set` takes: each a new override, null to go back to the engine's default; a field left out is kept. */
export const LADDER_FIELDS = ['minRunwayMinutes', 'runwayMarks', 'stopOverdraft', 'storageDebtLimit', 'storageDeletionDays', 'storageReminderDays'] as const;

export interface LadderSet {
  readonly name: 'ladder.set';
  /** The fields given (undefined: left as they are). */
  readonly changes: Partial<LadderOverrides>;
}

const invalid = (message: string) => new InputError(ErrorCode.INVALID_FIELD, message);

function days(field: string, v: unknown): number {
  const ms = typeof v === 'string' ? parseDays(v) : null;
  if (ms === null) throw invalid(`'${field}' must be a decimal string of days above 0 and up to ${MAX_STORAGE_DELETION_DAYS}, at most 6 decimals, such as "7" or "0.5"`);
  return ms;
}

function ladderAmount(field: string, v: unknown): Decimal {
  const d = typeof v === 'string' ? parseLadderAmount(v) : null;
  if (d === null) throw invalid(`'${field}' must be a decimal string from "0" to "1000000" with at most 8 decimals (a negative amount is refused)`);
  return d;
}

export function parseLadderSet(input: Record<string, unknown>): LadderSet {
  const unknown = Object.keys(input).filter((k) => !(LADDER_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) throw invalid(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; known: ${LADDER_FIELDS.join(', ')}`);
  if (Object.keys(input).length === 0) throw new InputError(ErrorCode.MISSING_FIELD, `give at least one of ${LADDER_FIELDS.join(', ')} (null: back to the engine's default)`);
  const changes: { -readonly [K in keyof LadderOverrides]?: LadderOverrides[K] } = {};
  const given = (f: (typeof LADDER_FIELDS)[number]) => f in input;
  if (given('minRunwayMinutes')) {
    const v = input.minRunwayMinutes;
    if (v !== null && !(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_MIN_RUNWAY_MINUTES)) throw invalid(`'minRunwayMinutes' must be whole minutes from 0 to ${MAX_MIN_RUNWAY_MINUTES} (a week), or null`);
    changes.minRunwayMinutes = v as number | null;
  }
  if (given('runwayMarks')) {
    const v = input.runwayMarks;
    const marks = v === null ? null : Array.isArray(v) && v.every((m) => typeof m === 'number') ? checkRunwayMarks(v as number[]) : undefined;
    if (marks === undefined || (v !== null && marks === null)) throw invalid("'runwayMarks' must be an array of at most 10 whole seconds from 1 to 2592000 (30 days), no repeats, or null");
    changes.runwayMarks = marks;
  }
  if (given('stopOverdraft')) changes.stopOverdraft = input.stopOverdraft === null ? null : ladderAmount('stopOverdraft', input.stopOverdraft);
  if (given('storageDebtLimit')) changes.storageDebtLimit = input.storageDebtLimit === null ? null : ladderAmount('storageDebtLimit', input.storageDebtLimit);
  if (given('storageDeletionDays')) changes.storageDeletionMs = input.storageDeletionDays === null ? null : days('storageDeletionDays', input.storageDeletionDays);
  if (given('storageReminderDays')) {
    const v = input.storageReminderDays;
    if (v !== null && (!Array.isArray(v) || v.length > 10)) throw invalid("'storageReminderDays' must be an array of at most 10 decimal strings of days before the deletion, or null");
    const ms = v === null ? null : (v as unknown[]).map((d, i) => days(`storageReminderDays[${i}]`, d));
    if (ms && new Set(ms).size !== ms.length) throw invalid("'storageReminderDays' has the same day twice");
    changes.storageRemindersMs = ms ? ms.sort((a, b) => b - a) : null;
  }
  return { name: 'ladder.set', changes };
}

const dayText = (ms: number) => new Decimal(ms).dividedBy(DAY_MS).toDecimalPlaces(6).toFixed();

/** Settings as the API shows them: amounts exact, durations in days. */
export function ladderSettingsView(s: LadderSettings) {
  return {
    minRunwayMinutes: s.minRunwayMinutes,
    runwayMarks: [...s.runwayMarks],
    stopOverdraft: toExact(s.stopOverdraft),
    storageDebtLimit: toExact(s.storageDebtLimit),
    storageDeletionDays: dayText(s.storageDeletionMs),
    storageReminderDays: s.storageRemindersMs.map(dayText),
  };
}

/** `ladder.get` / `ladder.set`'s answer: the settings in force (`settings`, overrides applied), the organization's overrides (null: the default), and any deletion countdown. */
export function ladderView(settings: LadderSettings, overrides: LadderOverrides, storage: StorageSuspension | null) {
  // `settings` are the ones in force, overrides included: an override shows as its value there.
  const view = ladderSettingsView(settings);
  const pick = <K extends keyof typeof view>(k: K, set: unknown) => (set === null ? null : view[k]);
  return {
    ok: true,
    settings: view,
    overrides: {
      minRunwayMinutes: pick('minRunwayMinutes', overrides.minRunwayMinutes),
      runwayMarks: pick('runwayMarks', overrides.runwayMarks),
      stopOverdraft: pick('stopOverdraft', overrides.stopOverdraft),
      storageDebtLimit: pick('storageDebtLimit', overrides.storageDebtLimit),
      storageDeletionDays: pick('storageDeletionDays', overrides.storageDeletionMs),
      storageReminderDays: pick('storageReminderDays', overrides.storageRemindersMs),
    },
    storage: storage ? { suspensionId: storage.id, scheduledAt: storage.scheduledAt.toISOString(), deleteAt: storage.deleteAt.toISOString(), remindersSent: storage.remindersSent } : null,
  };
}
