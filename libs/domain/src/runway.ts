/**
 * Runway: how long the balance lasts at the current burn, and the warnings when it gets short.
 */
import { Decimal, ZERO } from './money';

/**
 * Seconds until the total reaches zero at `burnRatePerHour`, floored: 0 when there is nothing
 * left, null when nothing burns (it lasts for ever).
 */
export function runwaySeconds(total: Decimal, burnRatePerHour: Decimal): number | null {
  if (total.lessThanOrEqualTo(ZERO)) return 0;
  if (burnRatePerHour.lessThanOrEqualTo(ZERO)) return null;
  return total.dividedBy(burnRatePerHour).times(3600).floor().toNumber();
}

/**
 * The marks (seconds) a change of runway crossed downwards: from at or above the mark (or no burn
 * at all) to below it. Highest first, as they are met.
 */
export function runwayCrossings(before: number | null, after: number | null, marks: readonly number[]): number[] {
  if (after === null) return [];
  return marks.filter((m) => (before === null || before >= m) && after < m).sort((a, b) => b - a);
}

/** Most runway marks an engine takes, and the longest one (30 days). */
export const MAX_RUNWAY_MARKS = 10;
export const MAX_RUNWAY_MARK_SECONDS = 30 * 86_400;

/** Reads `RUNWAY_MARKS`-style text: whole seconds, comma-separated, each 1..30 days, at most 10; null if it is not that. */
export function parseRunwayMarks(text: string): number[] | null {
  if (text.trim() === '') return [];
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length > MAX_RUNWAY_MARKS || parts.some((p) => !/^[1-9][0-9]{0,7}$/.test(p))) return null;
  const marks = parts.map(Number);
  if (marks.some((m) => m > MAX_RUNWAY_MARK_SECONDS) || new Set(marks).size !== marks.length) return null;
  return marks.sort((a, b) => b - a);
}
