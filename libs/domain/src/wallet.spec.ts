import fc from 'fast-check';
import { canPayFor, Grant } from './grant';
import { LedgerEntry } from './ledger-entry';
import { Decimal, sum, ZERO } from './money';
import { expireGrants } from './grant-expiry';
import { DecisionContext, WalletCommand } from './wallet-command';
import { decide } from './wallet-decision';
import { decideMeter, EMPTY_METER } from './wallet-meter';
import { admission, balanceOf, emptyWallet, totalOf, WalletState } from './wallet-state';

const t0 = new Date('2026-11-27T10:00:00Z');

function context(now: Date): DecisionContext {
  let n = 0;
  return { now, newId: () => `id-${now.getTime()}-${n++}-${Math.random().toString(36).slice(2, 8)}`, requestHash: 'h' };
}

function apply(state: WalletState, cmd: WalletCommand, now = t0) {
  const d = decide(state, cmd, context(now));
  if (!d.ok) throw new Error(d.refusal.message);
  return d;
}

const topup = (amount: string, currency: 'USD' | 'VND' = 'USD'): WalletCommand => ({
  type: 'topup', idempotencyKey: `k-${amount}-${Math.random()}`, amount: new Decimal(amount), currency, provider: 'stripe', reference: 'pi_1',
});
const debit = (amount: string, service = 'gpu-container'): WalletCommand => ({
  type: 'debit', idempotencyKey: `d-${Math.random()}`, amount: new Decimal(amount), service, workspaceId: 'ws-1', resourceId: null, description: null, currency: null,
});

describe('wallet decisions', () => {
  it('charges what grants cannot pay to top-up as debt, and the next top-up pays the debt first', () => {
    let s = apply(emptyWallet('o'), topup('5')).state;
    const d = apply(s, debit('8'));
    s = d.state;
    expect(balanceOf(s).topup.toFixed()).toBe('-3');
    expect(d.entry.split.map((p) => p.amount.toFixed())).toEqual(['-8']);
    const t = apply(s, topup('10'));
    expect(balanceOf(t.state).topup.toFixed()).toBe('7');
    expect(t.state.grants.filter((g) => g.remaining.isNegative())).toHaveLength(0);
    expect(sum(t.entry.split.map((p) => p.amount)).toFixed()).toBe('10');
  });

  it('refuses a credit in another currency once the first top-up fixed it, and changes nothing', () => {
    const s = apply(emptyWallet('o'), topup('5')).state;
    const d = decide(s, topup('5', 'VND'), context(t0));
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.refusal.code).toBe('CURRENCY_LOCKED');
  });

  it('refuses a first top-up in a currency other than the grants already held', () => {
    const s = apply(emptyWallet('o'), { type: 'grant', idempotencyKey: 'g', kind: 'voucher', amount: new Decimal(3), currency: 'VND', service: null, expiresAt: new Date(t0.getTime() + 1000), reference: null }).state;
    const d = decide(s, topup('5', 'USD'), context(t0));
    expect(d.ok).toBe(false);
  });

  it('refuses a debit on a wallet that has no billing currency yet', () => {
    const d = decide(emptyWallet('o'), debit('1'), context(t0));
    expect(d.ok ? null : d.refusal.code).toBe('NO_BILLING_CURRENCY');
  });

  it('writes off expired vouchers with one expire entry each', () => {
    const s = apply(emptyWallet('o'), { type: 'grant', idempotencyKey: 'g', kind: 'voucher', amount: new Decimal('2.5'), currency: 'USD', service: null, expiresAt: new Date(t0.getTime() + 1000), reference: null }).state;
    const { state, entries } = expireGrants(s, { now: new Date(t0.getTime() + 1000), newId: () => 'e' });
    expect(entries.map((e) => [e.type, e.amount.toFixed(), e.idempotencyKey])).toEqual([['expire', '-2.5', `expire:${s.grants[0].id}:2`]]);
    expect(totalOf(state).isZero()).toBe(true);
    expect(expireGrants(state, { now: new Date(t0.getTime() + 5000), newId: () => 'e' }).entries).toHaveLength(0);
  });

  it('writes off again, under a key of its own, credit a late correction gives back to a voucher that has expired since', () => {
    let s = apply(apply(emptyWallet('o'), topup('10')).state, { type: 'grant', idempotencyKey: 'g', kind: 'voucher', amount: new Decimal('2'), currency: 'USD', service: null, expiresAt: new Date(t0.getTime() + 1000), reference: null }).state;
    const meter = (amount: string, untilMs: number) => ({ type: 'meter' as const, resourceId: 'r', day: '2026-11-27', workspaceId: 'ws', service: 'gpu', currency: 'USD' as const, amount: new Decimal(amount), usageMs: 0, until: new Date(t0.getTime() + untilMs) });
    const charged = decideMeter(s, EMPTY_METER, meter('1.5', 500), { now: new Date(t0.getTime() + 500), newId: () => 'x' });
    if (!charged.ok) throw new Error('meter');
    const first = expireGrants(charged.state, { now: new Date(t0.getTime() + 1000), newId: () => 'e' });
    // The stop comes late: the run was shorter, and the voucher gets its 1.5 back after it expired.
    const corrected = decideMeter(first.state, charged.meter, meter('0', 500), { now: new Date(t0.getTime() + 2000), newId: () => 'y' });
    if (!corrected.ok) throw new Error('correction');
    s = corrected.state;
    const second = expireGrants(s, { now: new Date(t0.getTime() + 2000), newId: () => 'e' });
    const keys = [...first.entries, ...second.entries].map((e) => e.idempotencyKey);
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(2);
    expect(second.entries[0].amount.toFixed()).toBe('-1.5');
    expect(balanceOf(second.state)).toMatchObject({ voucher: ZERO, topup: new Decimal('10') });
  });
});

// ---- property-based: the ledger invariant for any sequence of credits, debits and expiries ----

const services = ['gpu-container', 'ai-notebook', 'vm'];
const amountArb = fc.bigInt({ min: 1n, max: 10_000_000_000n }).map((n) => new Decimal(n.toString()).dividedBy(1e6));

type Op =
  | { op: 'topup'; amount: Decimal }
  | { op: 'grant'; kind: 'voucher' | 'plan'; amount: Decimal; service: string | null; expiresInMs: number | null }
  | { op: 'debit'; amount: Decimal; service: string }
  | { op: 'advance'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  amountArb.map((amount) => ({ op: 'topup' as const, amount })),
  fc.record({
    op: fc.constant('grant' as const),
    kind: fc.constantFrom('voucher' as const, 'plan' as const),
    amount: amountArb,
    service: fc.option(fc.constantFrom(...services), { nil: null }),
    expiresInMs: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: null }),
  }),
  fc.record({ op: fc.constant('debit' as const), amount: amountArb, service: fc.constantFrom(...services) }),
  fc.integer({ min: 1, max: 5_000 }).map((ms) => ({ op: 'advance' as const, ms })),
);

describe('wallet invariants (property-based)', () => {
  it('keeps ledger sum == grant remainders == wallet total, never overdraws a non-top-up grant, never draws from a grant that cannot pay', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        let state = emptyWallet('org');
        let now = t0;
        const ledger: LedgerEntry[] = [];
        for (const op of ops) {
          if (op.op === 'advance') {
            now = new Date(now.getTime() + op.ms);
            const expired = expireGrants(state, { now, newId: context(now).newId });
            state = expired.state;
            ledger.push(...expired.entries);
            continue;
          }
          const cmd: WalletCommand =
            op.op === 'topup'
              ? { type: 'topup', idempotencyKey: 'k', amount: op.amount, currency: 'USD', provider: 'p', reference: 'r' }
              : op.op === 'grant'
                ? { type: 'grant', idempotencyKey: 'k', kind: op.kind, amount: op.amount, currency: 'USD', service: op.service, expiresAt: op.expiresInMs === null ? null : new Date(now.getTime() + op.expiresInMs), reference: null }
                : { type: 'debit', idempotencyKey: 'k', amount: op.amount, service: op.service, workspaceId: 'w', resourceId: null, description: null, currency: null };
          const before = new Map(state.grants.map((g) => [g.id, g] as [string, Grant]));
          const d = decide(state, cmd, context(now));
          if (!d.ok) {
            expect(d.refusal.code).toBe('NO_BILLING_CURRENCY');
            continue;
          }
          if (d.entry.type === 'debit') {
            for (const part of d.entry.split) {
              const g = before.get(part.grantId);
              if (g && part.amount.isNegative() && g.remaining.greaterThan(ZERO)) {
                expect(canPayFor(g, op.op === 'debit' ? op.service : '', now)).toBe(true);
              }
              if (g && g.kind !== 'topup') expect(g.remaining.plus(part.amount).greaterThanOrEqualTo(0)).toBe(true);
            }
            expect(d.entry.amount.negated().equals(op.amount)).toBe(true);
          }
          expect(sum(d.entry.split.map((p) => p.amount)).equals(d.entry.amount)).toBe(true);
          state = d.state;
          ledger.push(d.entry);
          expect(d.entry.seq).toBe(ledger.length);
        }
        const ledgerSum = sum(ledger.map((e) => e.amount));
        const grantSum = sum(state.grants.map((g) => g.remaining));
        expect(ledgerSum.equals(grantSum)).toBe(true);
        expect(balanceOf(state).total.equals(grantSum)).toBe(true);
        for (const g of state.grants) {
          if (g.kind !== 'topup') expect(g.remaining.greaterThanOrEqualTo(0)).toBe(true);
        }
        expect(state.grants.filter((g) => g.remaining.isNegative()).length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });
});

describe('reversal of a top-up', () => {
  it('takes back the reversed top-up first, never vouchers, and leaves debt when the money is gone', () => {
    let s = apply(emptyWallet('o'), topup('10')).state;
    s = apply(s, { type: 'topup', idempotencyKey: 't2', amount: new Decimal(5), currency: 'USD', provider: 'stripe', reference: 'pi_2' }).state;
    s = apply(s, { type: 'grant', idempotencyKey: 'g', kind: 'voucher', amount: new Decimal(3), currency: 'USD', service: null, expiresAt: new Date(t0.getTime() + 86400_000), reference: null }).state;
    s = apply(s, debit('9')).state; // voucher 3, then top-up 6 from the oldest: 4 + 5 left
    const r = apply(s, { type: 'reverse', idempotencyKey: 'r', amount: new Decimal(5), currency: 'USD', reference: 'stripe:pi_2', reason: 'charge.dispute.created' });
    expect(r.entry.type).toBe('reversal');
    expect(r.entry.amount.toFixed()).toBe('-5');
    expect(balanceOf(r.state)).toMatchObject({ voucher: new Decimal(0), topup: new Decimal(4) });
    const again = apply(r.state, { type: 'reverse', idempotencyKey: 'r2', amount: new Decimal(10), currency: 'USD', reference: 'stripe:pi_1', reason: 'failed' });
    expect(balanceOf(again.state).topup.toFixed()).toBe('-6');
    expect(sum(again.entry.split.map((p) => p.amount)).toFixed()).toBe('-10');
  });
});

describe('plan credit rollover', () => {
  it('moves what is left, up to the cap, into a grant for one more period and writes off the rest', () => {
    const end = new Date(t0.getTime() + 1000);
    let s = apply(emptyWallet('o'), { type: 'grant', idempotencyKey: 'p1', kind: 'plan', amount: new Decimal(10), currency: 'USD', service: null, expiresAt: end, reference: 'plan:s', rollover: { cap: new Decimal(3), periodMs: 1000 } }).state;
    s = apply(s, debit('5')).state;
    const { state, entries } = expireGrants(s, { now: end, newId: (() => { let i = 0; return () => `n${i++}`; })() });
    expect(entries.map((e) => [e.type, e.amount.toFixed(), e.split.map((p) => p.amount.toFixed())])).toEqual([
      ['rollover', '0', ['-3', '3']],
      ['expire', '-2', ['-2']],
    ]);
    expect(balanceOf(state).plan.toFixed()).toBe('3');
    const successor = state.grants.find((g) => g.sourceRef?.startsWith('rollover:'))!;
    expect(successor.expiresAt!.getTime()).toBe(end.getTime() + 1000);
    expect(expireGrants(state, { now: new Date(end.getTime() + 1000), newId: () => 'x' }).entries.map((e) => e.type)).toEqual(['expire']);
  });
});

describe('admission', () => {
  it('admits when the balance usable for the service covers the minimum runway, its cost at the ledger scale', () => {
    const s = apply(emptyWallet('o'), topup('1')).state;
    // 10 minutes of 2.00000001 an hour: 0.333333335, half-even to 8 decimals.
    const a = admission(s, 'gpu-container', t0, new Decimal('2.00000001'), 10);
    expect(a.required.toFixed()).toBe('0.33333334');
    expect(a.usable.toFixed()).toBe('1');
    expect(a.authorized).toBe(true);
    expect(admission(s, 'gpu-container', t0, new Decimal(6), 10).authorized).toBe(true);
    expect(admission(s, 'gpu-container', t0, new Decimal('6.00000006'), 10).authorized).toBe(false);
  });

  it('takes debt off what the grants usable for the service hold', () => {
    let s = apply(emptyWallet('o'), topup('1')).state;
    s = apply(s, debit('3')).state;
    s = apply(s, { type: 'grant', idempotencyKey: 'g', kind: 'voucher', amount: new Decimal(5), currency: 'USD', service: null, expiresAt: new Date(t0.getTime() + 3600_000), reference: null }).state;
    expect(admission(s, 'gpu-container', t0, new Decimal(6), 10).usable.toFixed()).toBe('3');
  });

  it('compares the minimum runway with what is available: usable less what is held for running GPUs', () => {
    const s = apply(emptyWallet('o'), topup('3')).state;
    // 10 minutes of 2.50 an hour: 0.41666667. Usable 3 covers it; 3 - 2.8 held does not.
    const a = admission(s, 'gpu-container', t0, new Decimal('2.5'), 10, new Decimal('2.8'));
    expect([a.authorized, a.usable.toFixed(), a.available.toFixed(), a.required.toFixed()]).toEqual([false, '3', '0.2', '0.41666667']);
    expect(admission(s, 'gpu-container', t0, new Decimal('2.5'), 10, new Decimal('2.58333333')).authorized).toBe(true);
    expect(admission(s, 'gpu-container', t0, new Decimal('2.5'), 10, new Decimal('2.58333334')).authorized).toBe(false);
  });
});
