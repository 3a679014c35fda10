import { Decimal } from '@billing/domain';
import { loadPaymentsConfig } from './payments.config';
import { closedUnpaid, expiryDue, nextCheckAt, ProviderLookup } from './reconciliation';
import { StripePaymentIntent } from './provider-clients';

const at = (iso: string) => new Date(iso);
const pi = (status: string): StripePaymentIntent => ({ id: 'pi_1', clientSecret: null, status, amountMinor: '1000', amountReceivedMinor: '0', currency: 'USD', topupId: null, latestChargeId: null, amountRefundedMinor: null, failureMessage: null, cancellationReason: null });

describe('reconciliation rules', () => {
  it('are settings with documented defaults: every minute, after 15 minutes, 50 a run, a 5-minute lease; 0 turns the job off', () => {
    expect(loadPaymentsConfig({}).reconcile).toEqual({ intervalMs: 60_000, afterMs: 900_000, batchSize: 50, leaseMs: 300_000, maxBackoffMs: 3_600_000, expiryGraceMs: 300_000 });
    expect(loadPaymentsConfig({}).windows).toEqual({ stripeMs: 86_400_000, paypalMs: 10_800_000 });
    expect(loadPaymentsConfig({ PAYMENT_RECONCILE_INTERVAL_MS: '0' }).reconcile.intervalMs).toBe(0);
    expect(() => loadPaymentsConfig({ PAYMENT_RECONCILE_INTERVAL_MS: '5' })).toThrow(/0 \(off\) or at least 10/);
    expect(() => loadPaymentsConfig({ PAYMENT_RECONCILE_BATCH_SIZE: '0' })).toThrow(/PAYMENT_RECONCILE_BATCH_SIZE/);
  });

  it('expire a window only once its grace has passed', () => {
    const expiresAt = at('2026-12-01T10:00:00Z');
    expect(expiryDue(expiresAt, at('2026-12-01T10:04:59Z'), 300_000)).toBe(false);
    expect(expiryDue(expiresAt, at('2026-12-01T10:05:00Z'), 300_000)).toBe(true);
  });

  it('ask again after waits that double up to the maximum, never past the final check of the window', () => {
    const now = at('2026-12-01T10:00:00Z');
    const far = at('2026-12-30T00:00:00Z');
    const wait = (attempts: number, expiresAt = far) => nextCheckAt(attempts, now, 900_000, 3_600_000, expiresAt, 300_000).getTime() - now.getTime();
    expect([1, 2, 3, 4, 40].map((n) => wait(n))).toEqual([900_000, 1_800_000, 3_600_000, 3_600_000, 3_600_000]);
    // The window closes in 10 minutes: the final check is at its end plus the grace, 15 minutes from now, not after the backoff.
    expect(wait(3, at('2026-12-01T10:10:00Z'))).toBe(900_000);
    // Past the window and its grace: the backoff alone.
    expect(wait(2, at('2026-12-01T09:00:00Z'))).toBe(1_800_000);
  });

  it('let a top-up expire only when its provider says nothing was paid and nothing can be any more', () => {
    const order = (status: string, captures: number = 0) => ({ kind: 'paypal', order: { id: 'O1', status, approveUrl: null, topupId: null, captures: Array.from({ length: captures }, () => ({ id: 'C1', status: 'DECLINED', amount: new Decimal(1), currency: 'USD', topupId: null })) } }) as ProviderLookup;
    expect(closedUnpaid({ kind: 'stripe', pi: pi('requires_payment_method') })).toBe(true);
    expect(closedUnpaid({ kind: 'stripe', pi: pi('requires_action') })).toBe(true);
    for (const status of ['processing', 'succeeded', 'requires_capture', 'canceled']) expect(closedUnpaid({ kind: 'stripe', pi: pi(status) })).toBe(false);
    expect(closedUnpaid(order('PAYER_ACTION_REQUIRED'))).toBe(true);
    expect(closedUnpaid(order('CREATED'))).toBe(true);
    expect(closedUnpaid(order('APPROVED'))).toBe(false);
    expect(closedUnpaid(order('COMPLETED'))).toBe(false);
    expect(closedUnpaid(order('PAYER_ACTION_REQUIRED', 1))).toBe(false);
    expect(closedUnpaid({ kind: 'not_found', detail: "paypal: 404 RESOURCE_NOT_FOUND" })).toBe(true);
    expect(closedUnpaid({ kind: 'not_found', detail: "stripe: No such payment_intent: 'pi_1'" })).toBe(false);
    expect(closedUnpaid({ kind: 'unreachable', detail: 'paypal: 503' })).toBe(false);
    const vnpay = (transactionType: string, transactionStatus: string): ProviderLookup => ({ kind: 'vnpay', result: { found: true, txnRef: 't', transactionStatus, paid: transactionStatus === '00', transactionNo: '1', transactionType, amount: new Decimal(100000), bankCode: null, payDate: null } });
    expect(closedUnpaid({ kind: 'vnpay', result: { found: false } })).toBe(true);
    expect(closedUnpaid(vnpay('01', '01'))).toBe(true);
    expect(closedUnpaid(vnpay('01', '00'))).toBe(false);
    expect(closedUnpaid(vnpay('01', '02'))).toBe(false);
    expect(closedUnpaid(vnpay('02', '01'))).toBe(false);
  });
});
