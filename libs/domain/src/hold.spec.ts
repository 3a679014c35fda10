import fc from 'fast-check';
import { availableBalance, holdAt, holdPeriodEndMs, NO_HOLD } from './hold';
import { billingPeriods, LifecycleEvent, LifecycleStatus } from './lifecycle';
import { chargeUntil } from './metering';
import { Decimal } from './money';
import { parsePriceCatalog } from './pricing';

const t0 = Date.parse('2026-11-27T10:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const ev = (eventId: string, status: LifecycleStatus, ms: number): LifecycleEvent => ({ eventId, status, at: new Date(t0 + ms) });
const book = parsePriceCatalog({ gpu: { 'h100-1x': { USD: '2.50', VND: '62000', JPY: '380' } }, storagePerGbHour: { USD: '0.0002', VND: '5', JPY: '0.03' } });
const h100 = { sku: 'h100-1x', storageGb: 100 };
const usd = (hold: ReturnType<typeof holdAt>) => hold.amounts.get('USD')?.toFixed();

describe('hold periods', () => {
  it('begin at the run start and at each whole period after it', () => {
    expect(holdPeriodEndMs(t0, HOUR, t0)).toBe(t0 + HOUR);
    expect(holdPeriodEndMs(t0, HOUR, t0 + HOUR - 1)).toBe(t0 + HOUR);
    expect(holdPeriodEndMs(t0, HOUR, t0 + HOUR)).toBe(t0 + 2 * HOUR);
    expect(holdPeriodEndMs(t0, HOUR, t0 + 5 * HOUR + 7)).toBe(t0 + 6 * HOUR);
  });
});

describe('holds', () => {
  const running = billingPeriods([ev('a', 'RUNNING', 0)]);

  it('hold the cost of the whole first period when the GPU starts RUNNING, in every currency', () => {
    const hold = holdAt(running, h100, book, t0, HOUR);
    expect(usd(hold)).toBe('2.5');
    expect(hold.amounts.get('VND')!.toFixed()).toBe('62000');
    expect(hold.untilMs).toBe(t0 + HOUR);
  });

  it('hold what the run will still be charged in the current period (not its storage)', () => {
    // C(60 min) - C(10 min) = 2.5 - 0.41666667 (rounded once, half-even, as the charge is)
    expect(usd(holdAt(running, h100, book, t0 + 10 * MIN, HOUR))).toBe('2.08333333');
    // A new period begins: its whole cost is held again.
    expect(usd(holdAt(running, h100, book, t0 + HOUR, HOUR))).toBe('2.5');
    expect(holdAt(running, h100, book, t0 + HOUR, HOUR).untilMs).toBe(t0 + 2 * HOUR);
  });

  it('shrink by exactly what is charged within a period: charges draw from the hold', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * HOUR }), fc.integer({ min: 0, max: HOUR }), fc.integer({ min: 1, max: 120 }), (a, b, periodMin) => {
        const period = periodMin * MIN;
        const t1 = t0 + a;
        const t2 = Math.min(t1 + b, holdPeriodEndMs(t0, period, t1) - 1);
        const charged = chargeUntil(running, { sku: 'h100-1x', storageGb: 0 }, book, 'USD', t2).amount.minus(chargeUntil(running, { sku: 'h100-1x', storageGb: 0 }, book, 'USD', t1).amount);
        const before = holdAt(running, h100, book, t1, period).amounts.get('USD')!;
        const after = holdAt(running, h100, book, t2, period).amounts.get('USD')!;
        expect(after.plus(charged).equals(before)).toBe(true);
      }),
    );
  });

  it('are released by a stop, and hold only up to a stop that already lies ahead', () => {
    const stopped = billingPeriods([ev('a', 'RUNNING', 0), ev('b', 'STOPPED', 20 * MIN)]);
    expect(holdAt(stopped, h100, book, t0 + 20 * MIN, HOUR)).toBe(NO_HOLD);
    expect(holdAt(stopped, h100, book, t0 + 2 * HOUR, HOUR)).toBe(NO_HOLD);
    // Stamped ahead of now: held up to it, no further.
    const hold = holdAt(stopped, h100, book, t0 + 8 * MIN, HOUR);
    expect(usd(hold)).toBe(new Decimal('2.5').times(12).dividedBy(60).toDecimalPlaces(8).toFixed());
    expect(hold.untilMs).toBe(t0 + 20 * MIN);
  });

  it('hold nothing for a resource that never ran or whose run starts later, nor with a period of 0', () => {
    expect(holdAt(billingPeriods([ev('a', 'PENDING', 0)]), h100, book, t0, HOUR)).toBe(NO_HOLD);
    expect(holdAt(billingPeriods([ev('a', 'RUNNING', MIN)]), h100, book, t0, HOUR)).toBe(NO_HOLD);
    expect(holdAt(running, h100, book, t0 + MIN, 0)).toBe(NO_HOLD);
  });

  it('follow a price change within the period', () => {
    const changing = parsePriceCatalog({
      versions: [
        { effectiveFrom: '2026-01-01T00:00:00Z', gpu: { 'h100-1x': { USD: '2.50', VND: '62000', JPY: '380' } }, storagePerGbHour: { USD: '0.0002', VND: '5', JPY: '0.03' } },
        { effectiveFrom: new Date(t0 + 30 * MIN).toISOString(), gpu: { 'h100-1x': { USD: '2.00', VND: '50000', JPY: '300' } }, storagePerGbHour: { USD: '0.0002', VND: '5', JPY: '0.03' } },
      ],
    });
    // 30 min at 2.50 and 30 min at 2.00
    expect(usd(holdAt(running, h100, changing, t0, HOUR))).toBe('2.25');
  });

  it('leave available as the balance less what is held, below zero when the holds exceed it', () => {
    expect(availableBalance(new Decimal('10'), new Decimal('2.5')).toFixed()).toBe('7.5');
    expect(availableBalance(new Decimal('1'), new Decimal('2.5')).toFixed()).toBe('-1.5');
  });
});
