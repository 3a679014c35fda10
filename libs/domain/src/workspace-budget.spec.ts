import fc from 'fast-check';
import { LedgerEntry } from './ledger-entry';
import { Decimal } from './money';
import { budgetCapRefusal, budgetCrossings, budgetStanding, MAX_WORKSPACE_BUDGETS, monthBounds, spendAfter, spentIn, utcMonth, workspaceCharge } from './workspace-budget';

const d = (v: string | number) => new Decimal(v);
const entry = (over: Partial<LedgerEntry>): LedgerEntry => ({
  id: 'e',
  orgId: 'o',
  seq: 1,
  type: 'debit',
  amount: d('-1'),
  currency: 'USD',
  split: [],
  idempotencyKey: 'k',
  requestHash: 'h',
  service: 'gpu-container',
  workspaceId: 'ws-1',
  resourceId: null,
  description: null,
  reference: null,
  usageMs: null,
  usageUntil: null,
  totalAfter: d(0),
  at: new Date('2026-12-03T10:00:00Z'),
  ...over,
});

describe('budgetStanding', () => {
  it('reaches 80% at four fifths of the cap and is exhausted at the cap', () => {
    expect(budgetStanding(d('79.99'), d(100))).toMatchObject({ reached: null, exhausted: false });
    expect(budgetStanding(d(80), d(100))).toMatchObject({ reached: '80', exhausted: false });
    expect(budgetStanding(d('99.99999999'), d(100))).toMatchObject({ reached: '80', exhausted: false });
    expect(budgetStanding(d(100), d(100))).toMatchObject({ reached: '100', exhausted: true });
    expect(budgetStanding(d(130), d(100)).remaining.toFixed()).toBe('0');
    expect(budgetStanding(d(30), d(100)).remaining.toFixed()).toBe('70');
  });

  it('treats a cap of zero as exhausted from the start', () => {
    expect(budgetStanding(d(0), d(0))).toMatchObject({ reached: '100', exhausted: true });
  });
});

describe('budgetCrossings', () => {
  it('names each mark a charge takes the spend over, once', () => {
    expect(budgetCrossings(d(70), d(85), d(100))).toEqual(['80']);
    expect(budgetCrossings(d(85), d(99), d(100))).toEqual([]);
    expect(budgetCrossings(d(85), d(100), d(100))).toEqual(['100']);
    expect(budgetCrossings(d(10), d(150), d(100))).toEqual(['80', '100']);
    expect(budgetCrossings(d(100), d(120), d(100))).toEqual([]);
    expect(budgetCrossings(d(90), d(70), d(100))).toEqual([]);
  });

  it('over any split of the spend into charges, announces each mark exactly once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 40 }), (capCents, chargesCents) => {
        const cap = d(capCents).dividedBy(100);
        let spent = d(0);
        const seen: string[] = [];
        for (const c of chargesCents) {
          const after = spent.plus(d(c).dividedBy(100));
          seen.push(...budgetCrossings(spent, after, cap));
          spent = after;
        }
        const expected = (['80', '100'] as const).filter((t) => spent.greaterThanOrEqualTo(cap.times(t).dividedBy(100)));
        expect(seen).toEqual(expected);
      }),
    );
  });
});

describe('month-to-date spend', () => {
  const now = Date.parse('2026-12-03T10:00:00Z');

  it('adds the charges of each workspace in the month, less corrections, and ignores credits', () => {
    const spend = spendAfter({ month: '2026-12', byWorkspace: new Map([['ws-1', d(5)]]) }, [
      entry({ amount: d('-2.5') }),
      entry({ type: 'correction', amount: d('0.5') }),
      entry({ workspaceId: 'ws-2', amount: d('-1') }),
      entry({ type: 'topup', amount: d(100), workspaceId: null }),
    ], now);
    expect(spentIn(spend, 'ws-1', '2026-12').toFixed()).toBe('7');
    expect(spentIn(spend, 'ws-2', '2026-12').toFixed()).toBe('1');
    expect(spentIn(spend, 'ws-3', '2026-12').toFixed()).toBe('0');
  });

  it('starts from zero when the UTC month turns', () => {
    const spend = spendAfter({ month: '2026-11', byWorkspace: new Map([['ws-1', d(90)]]) }, [entry({ amount: d('-1') })], now);
    expect(spend.month).toBe('2026-12');
    expect(spentIn(spend, 'ws-1', '2026-12').toFixed()).toBe('1');
    expect(spentIn(spend, 'ws-1', '2027-01').toFixed()).toBe('0');
  });

  it("counts metered usage in the month its usage ends in, as the usage report does", () => {
    const late = entry({ resourceId: 'r', usageUntil: new Date('2026-12-01T00:00:00Z'), at: new Date('2026-12-01T00:00:03Z') });
    expect(workspaceCharge(late)?.month).toBe('2026-11');
    expect(spentIn(spendAfter({ month: '2026-12', byWorkspace: new Map() }, [late], now), 'ws-1', '2026-12').toFixed()).toBe('0');
  });

  it('reads months as UTC calendar months', () => {
    expect(utcMonth(Date.parse('2026-12-31T23:59:59.999Z'))).toBe('2026-12');
    expect(monthBounds('2026-12')).toEqual({ startMs: Date.parse('2026-12-01T00:00:00Z'), endMs: Date.parse('2027-01-01T00:00:00Z') });
  });
});

describe('budgetCapRefusal', () => {
  it('takes caps in the wallet currency and its minor unit only, up to the limit of workspaces', () => {
    expect(budgetCapRefusal('USD', null, d('100.50'), true, 0)).toBeNull();
    expect(budgetCapRefusal(null, 'USD', d(100), true, 0)?.code).toBe('NO_BILLING_CURRENCY');
    expect(budgetCapRefusal('USD', 'JPY', d(100), true, 0)?.code).toBe('CURRENCY_MISMATCH');
    expect(budgetCapRefusal('JPY', null, d('100.5'), true, 0)?.code).toBe('TOO_MANY_DECIMALS');
    expect(budgetCapRefusal('USD', null, d(100), true, MAX_WORKSPACE_BUDGETS)?.code).toBe('BUDGET_LIMIT');
    expect(budgetCapRefusal('USD', null, d(100), false, MAX_WORKSPACE_BUDGETS)).toBeNull();
  });
});
