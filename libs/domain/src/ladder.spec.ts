import { Decimal } from './money';
import { DAY_MS } from './metering';
import { checkRunwayMarks, ladderRefusal, LadderSettings, ladderSettings, ladderStep, NO_OVERRIDES, parseDays, parseDaysList, parseLadderAmount, remindersOf, storageDebtPaid, storageDebtReached, storageDue, storageNextDue, StorageSuspension } from './ladder';

const d = (v: string) => new Decimal(v);
const defaults: LadderSettings = { minRunwayMinutes: 10, runwayMarks: [86_400, 3_600, 600], stopOverdraft: d('0'), storageDebtLimit: d('10'), storageDeletionMs: 7 * DAY_MS, storageRemindersMs: [3 * DAY_MS, DAY_MS] };

describe('the enforcement ladder', () => {
  it('takes an override where one is set, the default elsewhere', () => {
    expect(ladderSettings(defaults, NO_OVERRIDES)).toEqual(defaults);
    const s = ladderSettings(defaults, { ...NO_OVERRIDES, stopOverdraft: d('5'), runwayMarks: [60] });
    expect(s.stopOverdraft.toFixed()).toBe('5');
    expect(s.runwayMarks).toEqual([60]);
    expect(s.storageDebtLimit.toFixed()).toBe('10');
  });

  it('reads days with fractions, refuses zero, negatives, over a year and repeats', () => {
    expect(parseDays('7')).toBe(7 * DAY_MS);
    expect(parseDays('0.0001')).toBe(8640);
    expect(parseDays('365')).toBe(365 * DAY_MS);
    for (const bad of ['0', '-1', '366', '1e3', '', ' 7', '0.0000001', 'seven']) expect(parseDays(bad)).toBeNull();
    expect(parseDaysList('1, 3')).toEqual([3 * DAY_MS, DAY_MS]);
    expect(parseDaysList('')).toEqual([]);
    expect(parseDaysList('1,1')).toBeNull();
    expect(parseDaysList('1,x')).toBeNull();
  });

  it('reads ladder amounts from 0 to 1,000,000 with at most 8 decimals', () => {
    expect(parseLadderAmount('0')?.toFixed()).toBe('0');
    expect(parseLadderAmount('12.5')?.toFixed()).toBe('12.5');
    for (const bad of ['-1', '1000000.01', '1.123456789', '01', 'abc', '']) expect(parseLadderAmount(bad)).toBeNull();
    expect(checkRunwayMarks([600, 3600])).toEqual([3600, 600]);
    for (const bad of [[0], [1.5], [2_592_001], [60, 60], Array.from({ length: 11 }, (_, i) => i + 1)]) expect(checkRunwayMarks(bad)).toBeNull();
  });

  it('schedules when the total crosses minus the limit, each side with its own limit', () => {
    const at = (total: string, limit = '10') => ({ total: d(total), limit: d(limit) });
    expect(storageDebtReached(at('-9.99'), at('-10'))).toBe(true);
    expect(storageDebtReached(at('5'), at('-50'))).toBe(true);
    expect(storageDebtReached(at('-10'), at('-11'))).toBe(false);
    expect(storageDebtReached(at('-9'), at('-9.5'))).toBe(false);
    // A limit lowered under a total already in debt: a crossing.
    expect(storageDebtReached(at('-5', '10'), at('-5', '2'))).toBe(true);
    expect(storageDebtPaid(d('0'))).toBe(true);
    expect(storageDebtPaid(d('-0.00000001'))).toBe(false);
  });

  it('is due for each reminder once, then the deletion; a reminder longer than the countdown is never sent', () => {
    const start = Date.parse('2027-01-01T00:00:00Z');
    const s: StorageSuspension = { id: 's', scheduledAt: new Date(start), deleteAt: new Date(start + 7 * DAY_MS), remindersSent: 0, deletionRequestedAt: null };
    const reminders = remindersOf(defaults, 7 * DAY_MS);
    expect(reminders).toEqual([3 * DAY_MS, DAY_MS]);
    expect(remindersOf(defaults, 2 * DAY_MS)).toEqual([DAY_MS]);
    expect(storageDue(s, reminders, start + DAY_MS)).toEqual({ reminders: [], delete: false });
    expect(storageDue(s, reminders, start + 4 * DAY_MS)).toEqual({ reminders: [1], delete: false });
    expect(storageDue(s, reminders, start + 6.5 * DAY_MS)).toEqual({ reminders: [1, 2], delete: false });
    expect(storageDue({ ...s, remindersSent: 2 }, reminders, start + 6.5 * DAY_MS)).toEqual({ reminders: [], delete: false });
    expect(storageDue({ ...s, remindersSent: 2 }, reminders, start + 7 * DAY_MS)).toEqual({ reminders: [], delete: true });
    expect(storageNextDue(s, reminders).getTime()).toBe(start + 4 * DAY_MS);
    expect(storageNextDue({ ...s, remindersSent: 2 }, reminders).getTime()).toBe(start + 7 * DAY_MS);
  });

  it('says where the organization stands, highest step first', () => {
    const s: StorageSuspension = { id: 's', scheduledAt: new Date(0), deleteAt: new Date(1), remindersSent: 0, deletionRequestedAt: null };
    expect(ladderStep({ available: d('100'), runwaySeconds: null, settings: defaults, storage: null })).toEqual({ step: 'ok', runwayMarkSeconds: null });
    expect(ladderStep({ available: d('100'), runwaySeconds: 3000, settings: defaults, storage: null })).toEqual({ step: 'runway_low', runwayMarkSeconds: 3600 });
    expect(ladderStep({ available: d('0'), runwaySeconds: 0, settings: defaults, storage: null })).toEqual({ step: 'gpus_stopped', runwayMarkSeconds: 600 });
    expect(ladderStep({ available: d('-1'), runwaySeconds: 0, settings: { ...defaults, stopOverdraft: d('5') }, storage: null }).step).toBe('runway_low');
    expect(ladderStep({ available: d('-20'), runwaySeconds: 0, settings: defaults, storage: s }).step).toBe('storage_deletion_scheduled');
    expect(ladderStep({ available: d('-20'), runwaySeconds: 0, settings: defaults, storage: { ...s, deletionRequestedAt: new Date(2) } }).step).toBe('storage_deleted');
  });

  it('refuses a ladder whose storage limit is zero or below the stop overdraft', () => {
    expect(ladderRefusal(defaults)).toBeNull();
    expect(ladderRefusal({ ...defaults, storageDebtLimit: d('0') })).toMatch(/above 0/);
    expect(ladderRefusal({ ...defaults, stopOverdraft: d('20') })).toMatch(/at least the stop overdraft/);
    expect(ladderRefusal({ ...defaults, stopOverdraft: d('10') })).toBeNull();
  });
});
