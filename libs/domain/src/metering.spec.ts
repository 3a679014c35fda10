import fc from 'fast-check';
import { Currency } from './currency';
import { billingPeriods, LifecycleEvent, LifecycleStatus } from './lifecycle';
import { chargeUntil, dayCharges, DAY_MS, utcDay } from './metering';
import { Decimal, roundToLedgerScale, sum, ZERO } from './money';
import { parsePriceCatalog, PriceBook } from './pricing';
import { decide } from './wallet-decision';
import { decideMeter, EMPTY_METER, MeterState } from './wallet-meter';
import { balanceOf, emptyWallet, WalletState } from './wallet-state';

const t0 = Date.parse('2026-11-27T10:00:00Z');
const HOUR = 3_600_000;
const ev = (eventId: string, status: LifecycleStatus, ms: number): LifecycleEvent => ({ eventId, status, at: new Date(t0 + ms) });
const prices = (gpu: string, storage = '0.0002') =>
  parsePriceCatalog({ gpu: { 'h100-1x': { USD: gpu, VND: '62000', JPY: '380' } }, storagePerGbHour: { USD: storage, VND: '5', JPY: '0.03' } });
const book = prices('2.50');
const h100 = { sku: 'h100-1x', storageGb: 100 };
const usd = (p: ReturnType<typeof billingPeriods>, untilMs: number, b: PriceBook = book, billed = h100) => chargeUntil(p, billed, b, 'USD', untilMs);

describe('charges', () => {
  it('bills GPU from RUNNING to the first stop and storage from the first RUNNING to DELETED, also while stopped', () => {
    const p = billingPeriods([ev('1', 'RUNNING', 0), ev('2', 'STOPPING', HOUR), ev('3', 'STOPPED', HOUR + 100_000), ev('4', 'DELETED', 2 * HOUR)]);
    const m = usd(p, t0 + 10 * HOUR);
    expect(m.amount.toFixed()).toBe('2.54'); // 2.50 for the hour of GPU + 100 GB x 2 h x 0.0002
    expect(m.gpuMs).toBe(HOUR);
  });

  it('charges rate x elapsed rounded once per run, however the time is cut into ticks', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 * DAY_MS }),
        fc.array(fc.integer({ min: 1, max: 30 * DAY_MS }), { maxLength: 40 }),
        fc.constantFrom('2.50', '0.00000001', '3.33333333'),
        (runMs, cuts, price) => {
          const b = prices(price);
          const p = billingPeriods([ev('a', 'RUNNING', 0), ev('b', 'STOPPED', runMs)]);
          let charged = ZERO;
          const increments: Decimal[] = [];
          for (const t of [...[...new Set(cuts)].sort((x, y) => x - y).map((c) => t0 + c), t0 + runMs + 1]) {
            const due = usd(p, t, b, { sku: 'h100-1x', storageGb: 0 }).amount;
            increments.push(due.minus(charged));
            charged = due;
          }
          expect(sum(increments).equals(roundToLedgerScale(new Decimal(price).times(runMs).dividedBy(HOUR)))).toBe(true);
        },
      ),
    );
  });

  it('prices usage at the prices in force when it happened: a run across a price change is priced piece by piece, rounded once', () => {
    const change = t0 + HOUR;
    const b = parsePriceCatalog({
      versions: [
        { effectiveFrom: '2020-01-01T00:00:00Z', gpu: { 'h100-1x': { USD: '2.50', VND: '62000', JPY: '380' } }, storagePerGbHour: { USD: '0', VND: '0', JPY: '0' } },
        { effectiveFrom: new Date(change).toISOString(), gpu: { 'h100-1x': { USD: '3.00', VND: '70000', JPY: '400' } }, storagePerGbHour: { USD: '0', VND: '0', JPY: '0' } },
      ],
    });
    const p = billingPeriods([ev('a', 'RUNNING', 0), ev('b', 'STOPPED', 2 * HOUR + 1)]);
    // 1 h at 2.50 + (1 h + 1 ms) at 3.00
    const gpuOnly = { sku: 'h100-1x', storageGb: 0 };
    expect(usd(p, t0 + 3 * HOUR, b, gpuOnly).amount.toFixed()).toBe(roundToLedgerScale(new Decimal('5.5').plus(new Decimal(3).dividedBy(HOUR))).toFixed());
    // What ran before the change is the same whether or not the change is known yet.
    expect(usd(p, change, b, gpuOnly).amount.equals(usd(p, change, prices('2.50'), gpuOnly).amount)).toBe(true);
  });
});

describe('day charges', () => {
  it('split usage into UTC days that add up to the cumulative charge exactly, in every currency', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 * DAY_MS }), fc.integer({ min: 1, max: 5 * DAY_MS }), fc.integer({ min: 0, max: 3 * DAY_MS }), (offset, length, storageLength) => {
        const p = billingPeriods([ev('a', 'RUNNING', offset), ev('b', 'STOPPED', offset + length), ev('c', 'DELETED', offset + length + storageLength)]);
        const now = t0 + offset + length + storageLength + 1;
        const days = dayCharges(p, h100, book, t0 + offset, now);
        expect(days[0].day).toBe(utcDay(t0 + offset));
        for (const c of ['USD', 'VND', 'JPY'] as Currency[]) {
          expect(sum(days.map((d) => d.amounts.get(c)!)).equals(chargeUntil(p, h100, book, c, now).amount)).toBe(true);
        }
        expect(days.reduce((s, d) => s + d.usageMs, 0)).toBe(length);
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
