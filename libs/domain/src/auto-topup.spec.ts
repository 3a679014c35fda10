import fc from 'fast-check';
import { autoTopupKey, autoTopupPeriods, autoTopupSize, isBelowTrigger } from './auto-topup';
import { Decimal } from './money';

const d = (v: string) => new Decimal(v);
const caps = { maxPerTopup: d('100'), maxPerDay: d('250'), maxPerMonth: d('1000') };
const base = { target: d('200'), currency: 'USD' as const, caps, chargedToday: d('0'), chargedThisMonth: d('0'), minimum: d('5') };
/** The size with its amount as text, to compare. */
const sized = (input: Parameters<typeof autoTopupSize>[0]) => {
  const size = autoTopupSize(input);
  return size.kind === 'charge' ? { kind: 'charge', amount: size.amount.toFixed() } : size;
};

describe('auto top-up: the crossing', () => {
  it('is below an amount trigger only strictly under it, on the exact total', () => {
    const trigger = { kind: 'amount' as const, amount: d('50') };
    expect(isBelowTrigger(trigger, { exactTotal: d('50'), runwaySeconds: 10 })).toBe(false);
    expect(isBelowTrigger(trigger, { exactTotal: d('49.99999999'), runwaySeconds: null })).toBe(true);
  });

  it('is never below a runway trigger while nothing burns (runway null)', () => {
    const trigger = { kind: 'runway' as const, seconds: 3600 };
    expect(isBelowTrigger(trigger, { exactTotal: d('-5'), runwaySeconds: null })).toBe(false);
    expect(isBelowTrigger(trigger, { exactTotal: d('5'), runwaySeconds: 3599 })).toBe(true);
    expect(isBelowTrigger(trigger, { exactTotal: d('5'), runwaySeconds: 3600 })).toBe(false);
  });

  it('names a crossing by the organization and the seq it crossed at', () => {
    expect(autoTopupKey('org-1', 42)).toBe('autotopup:org-1:42');
  });
});

describe('auto top-up: one top-up sized to the target within the caps', () => {
  it('sizes to reach the target, rounded up to the minor unit', () => {
    expect(sized({ ...base, exactTotal: d('120') })).toEqual({ kind: 'charge', amount: '80' });
    expect(sized({ ...base, exactTotal: d('120.004') })).toEqual({ kind: 'charge', amount: '80' });
    expect(sized({ ...base, exactTotal: d('120.00000001') })).toEqual({ kind: 'charge', amount: '80' });
    expect(sized({ ...base, exactTotal: d('120.011') })).toEqual({ kind: 'charge', amount: '79.99' });
    expect(sized({ ...base, currency: 'JPY', target: d('1000'), exactTotal: d('0.5'), minimum: d('50'), caps: { maxPerTopup: d('5000'), maxPerDay: d('5000'), maxPerMonth: d('5000') } })).toEqual({ kind: 'charge', amount: '1000' });
  });

  it('never goes past the per-top-up cap, nor what the day and the month have left', () => {
    expect(sized({ ...base, exactTotal: d('-500') })).toEqual({ kind: 'charge', amount: '100' });
    expect(sized({ ...base, exactTotal: d('10'), chargedToday: d('200') })).toEqual({ kind: 'charge', amount: '50' });
    expect(sized({ ...base, exactTotal: d('10'), chargedThisMonth: d('970') })).toEqual({ kind: 'charge', amount: '30' });
  });

  it('charges nothing once a cap is reached, and says which', () => {
    expect(autoTopupSize({ ...base, exactTotal: d('10'), chargedToday: d('250') })).toEqual({ kind: 'skip', reason: 'per_day_cap' });
    expect(autoTopupSize({ ...base, exactTotal: d('10'), chargedThisMonth: d('1000') })).toEqual({ kind: 'skip', reason: 'per_month_cap' });
    expect(autoTopupSize({ ...base, exactTotal: d('10'), chargedToday: d('247') })).toEqual({ kind: 'skip', reason: 'per_day_cap' });
    expect(autoTopupSize({ ...base, exactTotal: d('200') })).toEqual({ kind: 'skip', reason: 'target_reached' });
    expect(autoTopupSize({ ...base, exactTotal: d('197') })).toEqual({ kind: 'skip', reason: 'below_minimum' });
  });

  it('keeps the sum of any sequence of top-ups within every cap (property)', () => {
    const cents = (max: number) => fc.integer({ min: 0, max }).map((n) => new Decimal(n).dividedBy(100));
    fc.assert(
      fc.property(cents(100_000), cents(50_000), cents(100_000), cents(300_000), fc.array(cents(100_000).map((t) => t.minus(50_000 / 100)), { maxLength: 30 }), (target, perTopup, perDay, perMonth, totals) => {
        const c = { maxPerTopup: perTopup, maxPerDay: perDay, maxPerMonth: perMonth };
        let today = new Decimal(0);
        // Every top-up asked for in the day counts, as the repository sums them.
        let month = new Decimal(0);
        for (const exactTotal of totals) {
          const size = autoTopupSize({ target, exactTotal, currency: 'USD', caps: c, chargedToday: today, chargedThisMonth: month, minimum: new Decimal('0.5') });
          if (size.kind !== 'charge') continue;
          expect(size.amount.greaterThan(0)).toBe(true);
          expect(size.amount.lessThanOrEqualTo(perTopup)).toBe(true);
          expect(size.amount.decimalPlaces()).toBeLessThanOrEqual(2);
          // never past the target by more than the rounding to one cent
          expect(exactTotal.plus(size.amount).minus(target).lessThan('0.01')).toBe(true);
          today = today.plus(size.amount);
          month = month.plus(size.amount);
        }
        expect(today.lessThanOrEqualTo(perDay)).toBe(true);
        expect(month.lessThanOrEqualTo(perMonth)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('counts the caps by UTC day and UTC month', () => {
    expect(autoTopupPeriods(new Date('2026-12-31T23:59:59.999Z'))).toEqual({ dayStart: new Date('2026-12-31T00:00:00Z'), monthStart: new Date('2026-12-01T00:00:00Z') });
  });
});
