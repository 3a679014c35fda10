import { Decimal } from './money';
import { parseRunwayMarks, runwayCrossings, runwaySeconds } from './runway';

describe('runway', () => {
  it('is the time to zero at the current burn: 0 when nothing is left, null when nothing burns', () => {
    expect(runwaySeconds(new Decimal('10'), new Decimal('2.5'))).toBe(14_400);
    expect(runwaySeconds(new Decimal('0.01'), new Decimal('7'))).toBe(5);
    expect(runwaySeconds(new Decimal('0'), new Decimal('2.5'))).toBe(0);
    expect(runwaySeconds(new Decimal('-1'), new Decimal('0'))).toBe(0);
    expect(runwaySeconds(new Decimal('10'), new Decimal('0'))).toBeNull();
  });

  it('warns at each mark crossed downwards, once: not while it stays below, not when it rises', () => {
    const marks = [86_400, 3_600, 600];
    expect(runwayCrossings(null, 7_200, marks)).toEqual([86_400]);
    expect(runwayCrossings(7_200, 500, marks)).toEqual([3_600, 600]);
    expect(runwayCrossings(3_600, 3_599, marks)).toEqual([3_600]);
    expect(runwayCrossings(3_599, 3_000, marks)).toEqual([]);
    expect(runwayCrossings(500, 90_000, marks)).toEqual([]);
    expect(runwayCrossings(7_200, null, marks)).toEqual([]);
  });

  it('reads marks as whole seconds, 1 s to 30 days, at most 10, no repeats', () => {
    expect(parseRunwayMarks('600, 86400,3600')).toEqual([86_400, 3_600, 600]);
    expect(parseRunwayMarks('')).toEqual([]);
    for (const bad of ['0', '-5', '1.5', '1e3', 'x', '600,600', String(31 * 86_400), Array.from({ length: 11 }, (_, i) => i + 1).join(',')]) expect(parseRunwayMarks(bad)).toBeNull();
  });
});
