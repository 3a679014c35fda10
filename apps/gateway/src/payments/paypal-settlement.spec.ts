import { readPaypalReport } from './paypal-settlement';

const inputOf = (r: ReturnType<typeof readPaypalReport>) => (r.kind === 'report' ? r.input('USD') : null);
const text = (v: unknown) => (v as { toFixed(): string } | null)?.toFixed() ?? null;

describe('PayPal events as settlement facts', () => {
  it('reads a completed capture as a capture of its order, keyed by the event', () => {
    const r = readPaypalReport({ id: 'WH-1', event_type: 'PAYMENT.CAPTURE.COMPLETED', resource: { id: 'CAP1', amount: { value: '25.00', currency_code: 'USD' }, custom_id: 't-1', supplementary_data: { related_ids: { order_id: 'ORDER1' } }, update_time: '2026-12-01T10:00:00Z' } });
    expect(r).toMatchObject({ kind: 'report', key: 'paypal:WH-1', find: { providerRef: 'ORDER1' }, topupId: 't-1', currency: 'USD', at: new Date('2026-12-01T10:00:00Z') });
    expect(inputOf(r)).toMatchObject({ kind: 'captured', captureRef: 'CAP1' });
  });

  it('finds the capture of a refund through its up link, and reads its amount and the cumulative total', () => {
    const r = readPaypalReport({
      id: 'WH-2',
      event_type: 'PAYMENT.CAPTURE.REFUNDED',
      resource: { id: 'R1', status: 'COMPLETED', amount: { value: '5.00', currency_code: 'USD' }, seller_payable_breakdown: { total_refunded_amount: { value: '7.00', currency_code: 'USD' } }, links: [{ rel: 'up', href: 'https://api.paypal.com/v2/payments/captures/CAP1' }] },
    });
    expect(r).toMatchObject({ find: { captureRefs: ['CAP1'] } });
    const input = inputOf(r);
    expect(input).toMatchObject({ kind: 'refund', refundId: 'R1', counts: true });
    expect(input?.kind === 'refund' && [text(input.amount), text(input.total)]).toEqual(['5', '7']);
  });

  it('reads a dispute by its outcome once resolved, open before', () => {
    const dispute = (status: string, outcome?: string) =>
      inputOf(readPaypalReport({ id: 'WH-3', event_type: 'CUSTOMER.DISPUTE.UPDATED', resource: { dispute_id: 'PP-D-1', status, dispute_amount: { value: '10.00', currency_code: 'USD' }, disputed_transactions: [{ seller_transaction_id: 'CAP1' }], dispute_outcome: outcome ? { outcome_code: outcome } : undefined } }));
    expect(dispute('WAITING_FOR_SELLER_RESPONSE')).toMatchObject({ kind: 'dispute', disputeId: 'PP-D-1', stage: 'open' });
    expect(dispute('RESOLVED', 'RESOLVED_BUYER_FAVOUR')).toMatchObject({ stage: 'lost' });
    expect(dispute('RESOLVED', 'RESOLVED_SELLER_FAVOUR')).toMatchObject({ stage: 'won' });
    expect(readPaypalReport({ id: 'WH-4', event_type: 'CUSTOMER.DISPUTE.RESOLVED', resource: { dispute_id: 'PP-D-1', status: 'RESOLVED', disputed_transactions: [{ seller_transaction_id: 'CAP1' }] } }).kind).toBe('invalid');
  });

  it('reads an approval, a denial and a reversal; refuses amounts with more decimals than the currency', () => {
    expect(inputOf(readPaypalReport({ id: 'WH-5', event_type: 'CHECKOUT.ORDER.APPROVED', resource: { id: 'ORDER1', purchase_units: [{ custom_id: 't-1' }] } }))).toEqual({ kind: 'approved' });
    expect(inputOf(readPaypalReport({ id: 'WH-6', event_type: 'PAYMENT.CAPTURE.DENIED', resource: { id: 'CAP1', supplementary_data: { related_ids: { order_id: 'ORDER1' } } } }))).toMatchObject({ kind: 'attempt_failed' });
    expect(inputOf(readPaypalReport({ id: 'WH-7', event_type: 'PAYMENT.CAPTURE.REVERSED', resource: { id: 'RV1', amount: { value: '3.00', currency_code: 'USD' } } }))).toMatchObject({ kind: 'reversal', reversalId: 'RV1' });
    const r = readPaypalReport({ id: 'WH-8', event_type: 'PAYMENT.CAPTURE.COMPLETED', resource: { id: 'CAP1', amount: { value: '1.005', currency_code: 'USD' }, supplementary_data: { related_ids: { order_id: 'O' } } } });
    expect(r.kind === 'report' && r.input('USD')).toBeNull();
    expect(readPaypalReport({ event_type: 'PAYMENT.CAPTURE.COMPLETED', resource: {} }).kind).toBe('invalid');
    expect(readPaypalReport({ id: 'WH-9', event_type: 'BILLING.PLAN.CREATED', resource: {} }).kind).toBe('ignored');
  });
});
