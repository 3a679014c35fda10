import fc from 'fast-check';
import { LIFECYCLE_FIRST_RETRY_DELAY_MS, LIFECYCLE_MAX_RETRY_DELAY_MS, lifecycleRetryDelayMs } from './lifecycle-retry';

describe('lifecycle retry delay', () => {
  const top = () => 0.999999;

  it('doubles from one second with each delivery, the wait between half the step and the step', () => {
    expect(lifecycleRetryDelayMs(1, () => 0)).toBe(LIFECYCLE_FIRST_RETRY_DELAY_MS / 2);
    expect([1, 2, 3, 4, 5].map((n) => lifecycleRetryDelayMs(n, top))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
  });

  it('stays at the cap however often the message was delivered, and never stops', () => {
    expect(lifecycleRetryDelayMs(6, top)).toBe(LIFECYCLE_MAX_RETRY_DELAY_MS);
    expect(lifecycleRetryDelayMs(10_000, top)).toBe(LIFECYCLE_MAX_RETRY_DELAY_MS);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (count, r) => {
        const d = lifecycleRetryDelayMs(count, () => r);
        return Number.isInteger(d) && d >= LIFECYCLE_FIRST_RETRY_DELAY_MS / 2 && d <= LIFECYCLE_MAX_RETRY_DELAY_MS;
      }),
    );
  });

  it('never waits less for a later delivery than the step of an earlier one allows', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), (count) => lifecycleRetryDelayMs(count + 1, () => 0) >= lifecycleRetryDelayMs(count, () => 0)),
    );
  });

  it('takes a delivery count it cannot use (0, NaN) as the first delivery', () => {
    expect(lifecycleRetryDelayMs(0, top)).toBe(1_000);
    expect(lifecycleRetryDelayMs(Number.NaN, top)).toBe(1_000);
  });
});
