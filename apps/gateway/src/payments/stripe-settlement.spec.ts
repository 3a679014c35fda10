import { Decimal } from '@billing/domain';
import { readStripeReport, stripeDisputeStage } from './stripe-settlement';

const event = (type: string, object: object, extra: object = {}) => ({ id: 'evt_1', type, created: 1_800_000_000, data: { object }, ...extra }) as never;
const inputOf = (r: ReturnType<typeof readStripeReport>) => (r.kind === 'report' ? r.input('USD') : null);

describe('Stripe events as settlement facts', () => {
  it('reads a success as a capture of amount_received, keyed by the event and timed by created', () => {
    const r = readStripeReport(event('payment_intent.succeeded', { id: 'pi_1', amount_received: 1050, currency: 'usd', metadata: { topupId: 't-1' }, latest_charge: 'ch_1' }));
    expect(r).toMatchObject({ kind: 'report', key: 'stripe:evt_1', at: new Date(1_800_000_000_000), find: { providerRef: 'pi_1' }, topupId: 't-1', currency: 'USD' });
    expect(inputOf(r)).toMatchObject({ kind: 'captured', captureRef: 'ch_1', amount: new Decimal('10.50') });
  });

  it("finds an auto top-up's PaymentIntent by its top-up id too, and no other by metadata alone", () => {
    const auto = readStripeReport(event('payment_intent.succeeded', { id: 'pi_2', amount_received: 500, currency: 'usd', metadata: { topupId: 't-2', autoTopup: 'autotopup:org-1:7' } }));
    expect(auto).toMatchObject({ find: { providerRef: 'pi_2', autoTopupId: 't-2' } });
    const failed = readStripeReport(event('payment_intent.payment_failed', { id: 'pi_2', metadata: { topupId: 't-2', autoTopup: 'autotopup:org-1:7' }, last_payment_error: { message: 'insufficient funds' } }));
    expect(failed).toMatchObject({ find: { providerRef: 'pi_2', autoTopupId: 't-2' } });
    const started = readStripeReport(event('payment_intent.succeeded', { id: 'pi_3', amount_received: 500, currency: 'usd', metadata: { topupId: 't-3' } }));
    expect(started).toMatchObject({ find: { providerRef: 'pi_3', autoTopupId: null } });
  });

  it('reads a failed attempt as one that may be followed by a success, and a cancellation as final', () => {
    expect(inputOf(readStripeReport(event('payment_intent.payment_failed', { id: 'pi_1', last_payment_error: { message: 'card declined' } })))).toEqual({ kind: 'attempt_failed', reason: 'stripe payment_intent.payment_failed: card declined' });
    expect(inputOf(readStripeReport(event('payment_intent.canceled', { id: 'pi_1', cancellation_reason: 'requested_by_customer' })))).toMatchObject({ kind: 'canceled' });
    // Cancelled as abandoned: what reconciliation does when the payment window closed.
    expect(inputOf(readStripeReport(event('payment_intent.canceled', { id: 'pi_1', cancellation_reason: 'abandoned' })))).toEqual({ kind: 'expired', reason: 'stripe payment_intent.canceled: abandoned' });
  });

  it("reads charge.refunded as the charge's cumulative amount_refunded, found by PaymentIntent or charge", () => {
    const r = readStripeReport(event('charge.refunded', { id: 'ch_1', payment_intent: 'pi_1', amount_refunded: 3000, currency: 'usd', refunded: false }));
    expect(r).toMatchObject({ find: { providerRef: 'pi_1', captureRefs: ['ch_1'] } });
    expect(inputOf(r)).toMatchObject({ kind: 'refund', refundId: null, amount: null, counts: true, total: new Decimal(30) });
  });

  it("reads every dispute event by the dispute's status; the funds events by what happened to the money", () => {
    expect(stripeDisputeStage('charge.dispute.created', 'needs_response')).toBe('open');
    expect(stripeDisputeStage('charge.dispute.created', 'warning_needs_response')).toBe('inquiry');
    expect(stripeDisputeStage('charge.dispute.closed', 'lost')).toBe('lost');
    expect(stripeDisputeStage('charge.dispute.closed', 'won')).toBe('won');
    expect(stripeDisputeStage('charge.dispute.funds_reinstated', 'under_review')).toBe('won');
    expect(stripeDisputeStage('charge.dispute.funds_withdrawn', 'needs_response')).toBe('open');
    expect(stripeDisputeStage('charge.dispute.closed', undefined)).toBeNull();
    expect(stripeDisputeStage('charge.dispute.updated', 'something_new')).toBeNull();
    const r = readStripeReport(event('charge.dispute.closed', { id: 'dp_1', charge: 'ch_1', amount: 500, currency: 'usd', status: 'lost' }));
    expect(r).toMatchObject({ find: { providerRef: null, captureRefs: ['ch_1'] } });
    expect(inputOf(r)).toMatchObject({ kind: 'dispute', disputeId: 'dp_1', stage: 'lost' });
  });

  it('says invalid for an event of a used type without what it must carry, and nothing is read of a bad amount', () => {
    expect(readStripeReport(event('payment_intent.succeeded', {})).kind).toBe('invalid');
    expect(readStripeReport(event('charge.dispute.created', { id: 'dp_1', amount: 5 })).kind).toBe('invalid');
    expect(readStripeReport({ type: 'payment_intent.succeeded', data: { object: { id: 'pi_1' } } } as never).kind).toBe('invalid');
    expect(inputOf(readStripeReport(event('charge.refunded', { id: 'ch_1', amount_refunded: -5, currency: 'usd' })))).toBeNull();
    expect(inputOf(readStripeReport(event('payment_intent.succeeded', { id: 'pi_1', amount_received: '1e3', currency: 'usd' })))).toBeNull();
    expect(readStripeReport(event('customer.created', { id: 'cus_1' })).kind).toBe('ignored');
  });
});
