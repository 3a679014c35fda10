import { applyFact, Decimal, emptySettlement, Settlement, SettlementFact, viewOf } from '@billing/domain';
import { findMismatches, MismatchInput, paypalRecord, stripeRecord, vnpayRecord } from './payment-mismatches';

const d = (v: string) => new Decimal(v);
const now = new Date('2026-12-10T12:00:00Z');
const captured = (amount = '100'): SettlementFact => ({ key: 'stripe:evt_cap', at: new Date('2026-12-10T10:00:00Z'), input: { kind: 'captured', amount: d(amount), captureRef: 'ch_1' } });
const refunded = (total: string): SettlementFact => ({ key: `stripe:evt_ref_${total}`, at: new Date('2026-12-10T11:00:00Z'), input: { kind: 'refund', refundId: null, amount: null, counts: true, total: d(total) } });

function settle(...facts: SettlementFact[]): Settlement {
  let s = emptySettlement('t-1');
  for (const f of facts) {
    const r = applyFact(s, f);
    if (r.outcome === 'applied') s = r.settlement;
  }
  return s;
}

function input(settlement: Settlement, over: Partial<MismatchInput> = {}): MismatchInput {
  const view = viewOf(settlement.facts);
  return {
    status: view.status,
    expiresAt: new Date('2026-12-11T00:00:00Z'),
    updatedAt: new Date('2026-12-10T11:59:00Z'),
    creditError: null,
    changes: settlement.changes,
    changesConfirmed: settlement.changes.length,
    view,
    ledgerNet: view.owed,
    provider: null,
    now,
    ledgerBehindAfterMs: 180_000,
    expiryOverdueAfterMs: 360_000,
    ...over,
  } as MismatchInput;
}

const kinds = (i: MismatchInput) => findMismatches(i).map((m) => m.kind);

describe('mismatches between a provider, topup_intents and the ledger', () => {
  it('finds none when the three agree', () => {
    const s = settle(captured(), refunded('30'));
    expect(kinds(input(s, { provider: { found: true, state: 'succeeded', taken: true, captured: d('100'), refunded: d('30') } }))).toEqual([]);
    expect(kinds(input(settle(), { provider: { found: true, state: 'requires_payment_method', taken: false, captured: null, refunded: null } }))).toEqual([]);
  });

  it('finds a capture at the provider that the top-up does not hold (a lost webhook), and the reverse', () => {
    expect(kinds(input(settle(), { provider: { found: true, state: 'succeeded', taken: true, captured: d('100'), refunded: null } }))).toEqual(['provider_captured_not_credited']);
    expect(kinds(input(settle(captured()), { provider: { found: true, state: 'requires_payment_method', taken: false, captured: null, refunded: null } }))).toEqual(['credited_without_capture']);
    expect(kinds(input(settle(captured()), { provider: { found: false, state: '91 not found' } }))).toEqual(['credited_without_capture']);
    expect(kinds(input(settle(captured('100')), { provider: { found: true, state: 'succeeded', taken: true, captured: d('90'), refunded: null } }))).toEqual(['captured_amount_differs']);
    expect(kinds(input(settle(captured()), { provider: { found: true, state: 'succeeded', taken: true, captured: d('100'), refunded: d('40') } }))).toEqual(['refunded_differs']);
  });

  it('finds a ledger that holds another net than the settlement sent, allowing a change whose answer was lost', () => {
    const s = settle(captured(), refunded('30'));
    expect(kinds(input(s, { ledgerNet: d('100') }))).toEqual(['ledger_differs']);
    // The reversal is stored, unconfirmed: the ledger may hold the credit alone, or both.
    expect(kinds(input(s, { changesConfirmed: 1, ledgerNet: d('100') }))).toEqual([]);
    expect(kinds(input(s, { changesConfirmed: 1, ledgerNet: d('70') }))).toEqual([]);
    expect(kinds(input(s, { changesConfirmed: 1, ledgerNet: d('0') }))).toEqual(['ledger_differs']);
    expect(findMismatches(input(s, { ledgerNet: d('0') }))[0].detail).toMatch(/the ledger holds 0 under the top-up's keys; the settlement sent 70 \(owed 70\)/);
    // The ledger as sent, but the facts owe something else (a row edited by hand).
    const edited = settle(captured(), refunded('30'), refunded('40'));
    expect(findMismatches(input(edited, { changes: s.changes, changesConfirmed: 2, ledgerNet: d('70') }))).toEqual([{ kind: 'ledger_differs', detail: "the settlement's changes hold 70; its facts owe 60" }]);
  });

  it('finds changes left unsent past the sweep, a change refused for good, and a pending top-up past its window', () => {
    const s = settle(captured());
    expect(kinds(input(s, { changesConfirmed: 0, ledgerNet: d('0'), updatedAt: new Date(now.getTime() - 600_000) }))).toEqual(['ledger_behind']);
    expect(kinds(input(s, { changesConfirmed: 0, ledgerNet: d('0'), updatedAt: new Date(now.getTime() - 10_000) }))).toEqual([]);
    expect(kinds(input(s, { changesConfirmed: 0, ledgerNet: d('0'), creditError: 'topup:t-1: CURRENCY_LOCKED' }))).toEqual(['ledger_refused']);
    expect(kinds(input(settle(), { expiresAt: new Date(now.getTime() - 3_600_000) }))).toEqual(['pending_past_expiry']);
    expect(kinds(input(settle(), { expiresAt: new Date(now.getTime() - 60_000) }))).toEqual([]);
  });

  it("reads each provider's record: Stripe's PaymentIntent and charge, PayPal's captures, VNPAY's querydr", () => {
    const pi = { id: 'pi_1', clientSecret: null, amountMinor: '10000', currency: 'USD', topupId: null, latestChargeId: 'ch_1', failureMessage: null, cancellationReason: null };
    expect(stripeRecord({ ...pi, status: 'succeeded', amountReceivedMinor: '10000', amountRefundedMinor: '2500' }, 'USD')).toEqual({ found: true, state: 'succeeded', taken: true, captured: d('100'), refunded: d('25') });
    expect(stripeRecord({ ...pi, status: 'requires_payment_method', amountReceivedMinor: '0', amountRefundedMinor: null }, 'USD')).toMatchObject({ taken: false, captured: null, refunded: null });
    const capture = (status: string) => ({ id: 'C1', status, amount: d('25.00'), currency: 'USD', topupId: null });
    expect(paypalRecord({ id: 'O1', status: 'COMPLETED', approveUrl: null, topupId: null, captures: [capture('COMPLETED')] })).toMatchObject({ taken: true, captured: d('25'), refunded: d('0') });
    expect(paypalRecord({ id: 'O1', status: 'COMPLETED', approveUrl: null, topupId: null, captures: [capture('REFUNDED')] })).toMatchObject({ taken: true, refunded: d('25') });
    expect(paypalRecord({ id: 'O1', status: 'COMPLETED', approveUrl: null, topupId: null, captures: [capture('PARTIALLY_REFUNDED')] })).toMatchObject({ taken: true, refunded: null });
    expect(paypalRecord({ id: 'O1', status: 'PAYER_ACTION_REQUIRED', approveUrl: null, topupId: null, captures: [] })).toMatchObject({ taken: false });
    const q = (transactionType: string, transactionStatus: string) => ({ found: true as const, txnRef: 't', transactionStatus, paid: transactionStatus === '00', transactionNo: '1', transactionType, amount: d('100000'), bankCode: null, payDate: null });
    expect(vnpayRecord(q('01', '00'))).toMatchObject({ taken: true, captured: d('100000') });
    expect(vnpayRecord(q('01', '05'))).toMatchObject({ taken: true, captured: null });
    expect(vnpayRecord(q('01', '01'))).toMatchObject({ taken: false });
    expect(vnpayRecord({ found: false })).toEqual({ found: false, state: '91 not found' });
  });
});
