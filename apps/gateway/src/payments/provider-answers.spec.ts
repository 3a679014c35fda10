import { Decimal } from '@billing/domain';
import { readPaypalOrderReports } from './paypal-settlement';
import { SettlementReport } from './settlement-report';
import { readStripeIntentReports } from './stripe-settlement';
import { readVnpayQueryReport } from './vnpay-settlement';
import { StripePaymentIntent } from './provider-clients';

const now = new Date('2026-12-10T12:00:00Z');
const inputs = (reports: SettlementReport[], currency: 'USD' | 'VND' | 'JPY' = 'USD') => reports.map((r) => (r.kind === 'report' ? { key: r.key, at: r.at, input: r.input(currency) } : r));
const pi = (over: Partial<StripePaymentIntent>): StripePaymentIntent => ({ id: 'pi_1', clientSecret: null, status: 'requires_payment_method', amountMinor: '2500', amountReceivedMinor: '0', currency: 'USD', topupId: 't-1', latestChargeId: null, amountRefundedMinor: null, failureMessage: null, cancellationReason: null, ...over });

describe("provider API answers as settlement facts (reconciliation, PayPal's capture)", () => {
  it('reads a retrieved PaymentIntent as its events would say it, keyed by the PaymentIntent and its state', () => {
    expect(inputs(readStripeIntentReports(pi({ status: 'succeeded', amountReceivedMinor: '2500', latestChargeId: 'ch_1', amountRefundedMinor: '0' }), now))).toEqual([
      { key: 'stripe:pi:pi_1:succeeded', at: null, input: { kind: 'captured', amount: new Decimal('25'), captureRef: 'ch_1' } },
    ]);
    // The charge's refunded total comes along, timed when it was read: the newest figure Stripe has.
    expect(inputs(readStripeIntentReports(pi({ status: 'succeeded', amountReceivedMinor: '2500', latestChargeId: 'ch_1', amountRefundedMinor: '1000' }), now))[1]).toEqual({ key: 'stripe:charge:ch_1:refunded:1000', at: now, input: { kind: 'refund', refundId: null, amount: null, counts: true, total: new Decimal('10') } });
    expect(inputs(readStripeIntentReports(pi({ status: 'canceled', cancellationReason: 'duplicate' }), now))).toEqual([{ key: 'stripe:pi:pi_1:canceled', at: null, input: { kind: 'canceled', reason: 'stripe payment_intent canceled: duplicate' } }]);
    expect(inputs(readStripeIntentReports(pi({ status: 'canceled', cancellationReason: 'abandoned' }), now))).toEqual([{ key: 'stripe:pi:pi_1:canceled', at: null, input: { kind: 'expired', reason: 'stripe payment_intent canceled: abandoned' } }]);
    expect(inputs(readStripeIntentReports(pi({ failureMessage: 'Your card was declined.', latestChargeId: 'ch_9' }), now))).toEqual([{ key: 'stripe:pi:pi_1:failed:ch_9', at: null, input: { kind: 'attempt_failed', reason: 'stripe payment_intent payment failed: Your card was declined.' } }]);
    for (const status of ['requires_payment_method', 'processing', 'requires_action']) expect(readStripeIntentReports(pi({ status }), now)).toEqual([]);
  });

  it("reads an order's captures: COMPLETED (and later refunded) the money taken with its capture id, REFUNDED its total, DECLINED an attempt, VOIDED closed", () => {
    const capture = (id: string, status: string, value = '25.00') => ({ id, status, amount: new Decimal(value), currency: 'USD', topupId: 't-1' });
    const order = (status: string, ...captures: ReturnType<typeof capture>[]) => ({ id: 'O1', status, approveUrl: null, topupId: 't-1', captures });
    const completed = readPaypalOrderReports(order('COMPLETED', capture('C1', 'COMPLETED')), now);
    expect(completed).toEqual([expect.objectContaining({ key: 'paypal:capture:C1:completed', find: { providerRef: 'O1' }, topupId: 't-1', currency: 'USD' })]);
    expect(inputs(completed)[0]).toMatchObject({ input: { kind: 'captured', amount: new Decimal('25'), captureRef: 'C1' } });
    expect(inputs(readPaypalOrderReports(order('COMPLETED', capture('C1', 'REFUNDED')), now)).map((r) => 'input' in r && r.input?.kind)).toEqual(['captured', 'refund']);
    expect(inputs(readPaypalOrderReports(order('COMPLETED', capture('C1', 'DECLINED')), now))).toEqual([{ key: 'paypal:capture:C1:declined', at: null, input: { kind: 'attempt_failed', reason: 'paypal capture DECLINED' } }]);
    expect(inputs(readPaypalOrderReports(order('VOIDED'), now))).toEqual([{ key: 'paypal:order:O1:voided', at: null, input: { kind: 'canceled', reason: 'paypal order VOIDED' } }]);
    expect(readPaypalOrderReports(order('COMPLETED', capture('C1', 'PENDING')), now)).toEqual([]);
    // An amount the currency cannot have is no capture.
    expect(inputs(readPaypalOrderReports(order('COMPLETED', capture('C1', 'COMPLETED', '25.5')), now), 'JPY')[0]).toMatchObject({ input: null });
  });

  it('reads a querydr result as the same fact as its raw answer', () => {
    const result = { found: true as const, txnRef: 'abc', transactionStatus: '00', paid: true, transactionNo: '14000001', transactionType: '01', amount: new Decimal('250000'), bankCode: 'NCB', payDate: '20261210190000' };
    const report = readVnpayQueryReport(result);
    expect(report).toMatchObject({ kind: 'report', key: 'vnpay:querydr:14000001:01:00', find: { providerRef: 'abc' }, paymentAmount: new Decimal('250000'), at: new Date('2026-12-10T12:00:00Z') });
    expect(inputs([report], 'VND')[0]).toMatchObject({ input: { kind: 'captured', amount: new Decimal('250000'), captureRef: '14000001' } });
    expect(readVnpayQueryReport({ ...result, transactionStatus: '01', paid: false })).toMatchObject({ kind: 'ignored' });
  });
});
