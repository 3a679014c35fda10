import fc from 'fast-check';
import { afterFailure, checkRetryPolicy, DEFAULT_RETRY_POLICY, GIVE_UP_AFTER_MS, MAX_RETRY_DELAY_MS, retryDelayMs } from './retry-policy';

describe('retry policy', () => {
  const p = DEFAULT_RETRY_POLICY;

  it('doubles from the first delay, with the jitter between half the step and the step', () => {
    expect(retryDelayMs(p, 1, () => 0)).toBe(500);
    expect(retryDelayMs(p, 1, () => 0.999999)).toBe(1000);
    expect(retryDelayMs(p, 2, () => 0.999999)).toBe(2000);
    expect(retryDelayMs(p, 5, () => 0.999999)).toBe(16_000);
  });

  it('never waits longer than the cap, however many attempts failed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempts, r) => {
        const d = retryDelayMs(p, attempts, () => r);
        return d >= 1 && d <= MAX_RETRY_DELAY_MS && Number.isInteger(d);
      }),
    );
  });

  it('gives up once the window since the first attempt is over, and never schedules past it', () => {
    const first = 1_000_000;
    expect(afterFailure(p, 300, first, first + GIVE_UP_AFTER_MS, Math.random)).toEqual({ kind: 'give-up' });
    expect(afterFailure(p, 300, first, first + GIVE_UP_AFTER_MS - 10, () => 0.9)).toEqual({ kind: 'retry', delayMs: 10 });
    expect(afterFailure(p, 1, first, first, () => 0)).toEqual({ kind: 'retry', delayMs: 500 });
  });

  it('refuses a policy whose cap is below its first delay', () => {
    expect(() => checkRetryPolicy({ firstRetryDelayMs: 1000, maxRetryDelayMs: 10, giveUpAfterMs: 1 })).toThrow(/at least/);
  });
});
