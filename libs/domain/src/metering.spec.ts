import fc from 'fast-check';
import { billingPeriods, LifecycleEvent, LifecycleStatus, meterDays, meteredUntil, Rates } from './metering';
import { Decimal, roundToLedgerScale, sum, ZERO } from './money';
import { balanceOf, decide, decideMeter, EMPTY_METER, emptyWallet, MeterState, WalletState } from './wallet';

const t0 = Date.parse('2026-11-27T10:00:00Z');
const ev = (eventId: string, status: LifecycleStatus, ms: number): LifecycleEvent => ({ eventId, status, at: new Date(t0 + ms) });
const rates: Rates = { gpuPerHour: new Decimal('2.50'), storagePerGbHour: new Decimal('0.0002'), storageGb: 100 };

describe('billing periods', () => {
  it('bills GPU from RUNNING to the first stop and storage from the first RUNNING to DELETED, also while stopped', () => {
    const p = billingPeriods([ev('1', 'RUNNING', 0), ev('2', 'STOPPING', 3_600_000), ev('3', 'STOPPED', 3_700_000), ev('4', 'DELETED', 7_200_000)]);
    expect(p.gpu).toEqual([{ startMs: t0, endMs: t0 + 3_600_000 }]);
    expect(p.storage).toEqual({ startMs: t0, endMs: t0 + 7_200_000 });
    const m = meteredUntil(p, rates, t0 + 10 * 3_600_000);
    expect(m.amount.toFixed()).toBe('2.54'); // 2.50 for the hour of GPU + 100 GB x 2 h x 0.0002
    expect(m.gpuMs).toBe(3_600_000);
  });

  it('gives the same periods whatever order the events arrive in', () => {
    const events = [ev('1', 'PENDING', -5), ev('2', 'RUNNING', 0), ev('3', 'STOPPED', 1000), ev('4', 'RUNNING', 5000), ev('5', 'FAILED', 9000)];
    fc.assert(
      fc.property(fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }), (shuffled) => {
        expect(billingPeriods(shuffled)).toEqual(billingPeriods(events));
      }),
    );
  });

  it('charges rate x elapsed rounded once per run, however the time is cut into ticks', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 * 86_400_000 }),
        fc.array(fc.integer({ min: 1, max: 30 * 86_400_000 }), { maxLength: 40 }),
        fc.constantFrom('2.50', '62000', '380', '0.00000001'),
        (runMs, cuts, price) => {
          const r: Rates = { gpuPerHour: new Decimal(price), storagePerGbHour: ZERO, storageGb: 0 };
          const p = billingPeriods([ev('a', 'RUNNING', 0), ev('b', 'STOPPED', runMs)]);
          const ticks = [...new Set(cuts)].sort((a, b) => a - b).map((c) => t0 + c);
          let charged = ZERO;
          const increments: Decimal[] = [];
          for (const t of [...ticks, t0 + runMs + 1]) {
            const due = meteredUntil(p, r, t).amount;
            increments.push(due.minus(charged));
            charged = due;
          }
          expect(sum(increments).equals(roundToLedgerScale(new Decimal(price).times(runMs).dividedBy(3_600_000)))).toBe(true);
        },
      ),
    );
  });
});

describe('meter days', () => {
  it('splits usage into UTC days that add up to the cumulative charge exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 * 86_400_000 }), fc.integer({ min: 1, max: 5 * 86_400_000 }), (offset, length) => {
        const from = t0 + offset;
        const p = billingPeriods([ev('a', 'RUNNING', offset), ev('b', 'STOPPED', offset + length)]);
        const now = from + length + 1;
        const days = meterDays(from, now);
        const perDay = days.map((d) => meteredUntil(p, rates, Math.min(d.endMs, now)).amount.minus(meteredUntil(p, rates, d.startMs).amount));
        expect(sum(perDay).equals(meteredUntil(p, rates, now).amount)).toBe(true);
        expect(days[0].startMs).toBeLessThanOrEqual(from);
      }),
    );
  });
});

describe('meter decisions', () => {
  const now = new Date(t0);
  const ctx = () => ({ now, newId: (() => { let i = 0; return () => `g-${i++}`; })() });
  function funded(): WalletState {
    let s = emptyWallet('o');
    const t = decide(s, { type: 'topup', idempotencyKey: 't', amount: new Decimal(10), currency: 'USD', provider: 'p', reference: 'r' }, { ...ctx(), requestHash: '' });
    if (!t.ok) throw new Error('topup');
    s = t.state;
    const v = decide(s, { type: 'grant', idempotencyKey: 'v', kind: 'voucher', amount: new Decimal(1), currency: 'USD', service: null, expiresAt: new Date(t0 + 86_400_000), reference: null }, { now, newId: () => 'voucher', requestHash: '' });
    if (!v.ok) throw new Error('grant');
    return v.state;
  }
  const meter = (amount: string, untilMs: number) => ({ type: 'meter' as const, resourceId: 'r-1', day: '2026-11-27', workspaceId: 'ws', service: 'gpu', currency: 'USD' as const, amount: new Decimal(amount), usageMs: 0, until: new Date(t0 + untilMs) });

  it('charges the difference, ignores a repeat, and gives back an over-charge to the grants that paid it, latest first', () => {
    let state = funded();
    let m: MeterState = EMPTY_METER;
    const step = (amount: string, untilMs: number) => {
      const d = decideMeter(state, m, meter(amount, untilMs), ctx());
      if (!d.ok) throw new Error(d.refusal.message);
      state = d.state;
      m = d.meter;
      return d.entry;
    };
    expect(step('1.5', 1000)?.split.map((p) => [p.grantId, p.amount.toFixed()])).toEqual([['voucher', '-1'], [expect.any(String), '-0.5']]);
    expect(step('1.5', 2000)).toBeNull();
    const correction = step('0.75', 3000)!;
    expect(correction.type).toBe('correction');
    expect(correction.split.map((p) => p.amount.toFixed())).toEqual(['0.5', '0.25']);
    expect(balanceOf(state)).toMatchObject({ voucher: new Decimal('0.25'), topup: new Decimal('10') });
    expect(m.charged.toFixed()).toBe('0.75');
    expect(correction.idempotencyKey).toBe('meter:r-1:2026-11-27:2');
  });
});
