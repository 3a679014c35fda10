import fc from 'fast-check';
import { applyFact, Decimal, emptySettlement, Settlement, SettlementFact, viewOf } from '@billing/domain';
import { parseRefundRequest, refundDecision } from './payment-refunds';

const ID = '0b6f2c1e-6a38-4c6e-9d3f-2f1d3c4b5a69';
const d = (v: string) => new Decimal(v);

function settled(...facts: SettlementFact[]): Settlement {
  let s = emptySettlement(ID);
  for (const f of facts) {
    const r = applyFact(s, f);
    if (r.outcome === 'applied') s = r.settlement;
  }
  return s;
}
const capture = (amount = '100.00'): SettlementFact => ({ key: 'stripe:cap', at: null, input: { kind: 'captured', amount: d(amount), captureRef: 'ch_1' } });
const refund = (id: string, amount: string): SettlementFact => ({ key: `stripe:refund:${id}`, at: null, input: { kind: 'refund', refundId: id, amount: d(amount), counts: true, total: null } });
const topup = (settlement: Settlement, provider: 'stripe' | 'paypal' | 'vnpay' = 'stripe') => ({ status: viewOf(settlement.facts).status, currency: 'USD' as const, provider, captureRef: 'ch_1', settlement });

describe('operator refunds', () => {
  it('read the key from the header or the body (the same if both), a reason, and an optional amount', () => {
    expect(parseRefundRequest(ID, { reason: 'goodwill' }, 'k-1')).toEqual({ topupId: ID, amount: null, reason: 'goodwill', idempotencyKey: 'k-1' });
    expect(parseRefundRequest(ID, { reason: 'goodwill', amount: '25.00', idempotencyKey: 'k-2' }, undefined)).toMatchObject({ amount: d('25'), idempotencyKey: 'k-2' });
    const refused: [string, unknown, unknown, RegExp][] = [
      ['not-a-uuid', { reason: 'x' }, 'k', /UUID/],
      [ID, [], 'k', /JSON object/],
      [ID, { reason: 'x' }, undefined, /needs an idempotency key/],
      [ID, { reason: 'x', idempotencyKey: 'a' }, 'b', /differ/],
      [ID, { reason: 'x' }, 'a b', /1-128 characters/],
      [ID, { reason: 'x' }, ['a', 'b'], /once/],
      [ID, {}, 'k', /'reason' is required/],
      [ID, { reason: '   ' }, 'k', /printable/],
      [ID, { reason: 'x'.repeat(201) }, 'k', /1-200/],
      [ID, { reason: 'a\u0000b' }, 'k', /printable/],
      [ID, { reason: 'x', amount: 25 }, 'k', /decimal string/],
      [ID, { reason: 'x', amount: '-1' }, 'k', /positive decimal/],
      [ID, { reason: 'x', amount: '0' }, 'k', /greater than zero/],
    ];
    for (const [id, body, key, message] of refused) expect(() => parseRefundRequest(id, body, key)).toThrow(message);
  });

  it('take at most what was captured, less what was refunded and what is in flight; all of it when no amount is given', () => {
    const s = settled(capture(), refund('re_1', '30.00'));
    expect(refundDecision(topup(s), null, d('0'))).toEqual({ amount: d('70') });
    expect(refundDecision(topup(s), d('20'), d('50'))).toEqual({ amount: d('20') });
    expect(refundDecision(topup(s), d('20.01'), d('50'))).toMatchObject({ refusal: { code: 'REFUND_EXCEEDS_REMAINING', message: 'at most 20.00 USD is left to refund' } });
    expect(refundDecision(topup(s), d('1.005'), d('0'))).toMatchObject({ refusal: { code: 'TOO_MANY_DECIMALS' } });
    expect(refundDecision(topup(settled(capture(), refund('re_1', '100.00'))), null, d('0'))).toMatchObject({ refusal: { code: 'NOT_REFUNDABLE', message: expect.stringMatching(/nothing is left/) } });
  });

  it('refuse a top-up with nothing captured, one a dispute holds, and a PayPal one whose capture is not known', () => {
    expect(refundDecision(topup(settled()), null, d('0'))).toMatchObject({ refusal: { code: 'NOT_REFUNDABLE', message: expect.stringMatching(/is pending: nothing was captured/) } });
    const disputed = settled(capture(), { key: 'd1', at: null, input: { kind: 'dispute', disputeId: 'dp_1', amount: d('100'), stage: 'open' } });
    expect(refundDecision(topup(disputed), null, d('0'))).toMatchObject({ refusal: { code: 'NOT_REFUNDABLE', message: expect.stringMatching(/dispute/) } });
    expect(refundDecision({ ...topup(settled(capture()), 'paypal'), captureRef: null }, null, d('0'))).toMatchObject({ refusal: { code: 'NOT_REFUNDABLE' } });
  });

  it('never let refunds, however they are asked, take back more than was captured', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: 1, max: 12_000 }), { nil: null }), { maxLength: 12 }), (asks) => {
        let s = settled(capture('100.00'));
        let taken = d('0');
        asks.forEach((cents, i) => {
          const decision = refundDecision(topup(s), cents === null ? null : new Decimal(cents).dividedBy(100), d('0'));
          if ('amount' in decision) {
            taken = taken.plus(decision.amount);
            s = settled(...s.facts, refund(`re_${i}`, decision.amount.toFixed()));
          }
        });
        expect(taken.lessThanOrEqualTo(100)).toBe(true);
        expect(viewOf(s.facts).refunded.equals(taken)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
