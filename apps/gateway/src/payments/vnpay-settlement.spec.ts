import { Decimal } from '@billing/domain';
import { readVnpayIpnReport, readVnpayQuerydrReport, readVnpayRefundReport, vnpayTime } from './vnpay-settlement';

const ipn = (responseCode: string, transactionStatus: string) => ({ txnRef: 'abc', amount: new Decimal(50000), responseCode, transactionStatus, transactionNo: '14226112' });
const inputOf = (r: ReturnType<typeof readVnpayIpnReport>) => (r.kind === 'report' ? r.input('VND') : null);

describe('VNPAY answers as settlement facts', () => {
  it('reads vnp_PayDate in Vietnam time', () => {
    expect(vnpayTime('20261127153333')).toEqual(new Date('2026-11-27T08:33:33Z'));
    expect(vnpayTime('2026-11-27')).toBeNull();
  });

  it('reads an IPN as a capture (00/00), an expiry (11), a cancellation (24) or a failed attempt, keyed by what it reports', () => {
    const paid = readVnpayIpnReport(ipn('00', '00'), '20261127153333');
    expect(paid).toMatchObject({ kind: 'report', key: 'vnpay:ipn:14226112:00:00', find: { providerRef: 'abc' }, currency: 'VND', paymentAmount: new Decimal(50000) });
    expect(inputOf(paid)).toMatchObject({ kind: 'captured', captureRef: '14226112' });
    expect(inputOf(readVnpayIpnReport(ipn('11', '02')))).toMatchObject({ kind: 'expired' });
    expect(inputOf(readVnpayIpnReport(ipn('24', '02')))).toMatchObject({ kind: 'canceled' });
    expect(inputOf(readVnpayIpnReport(ipn('51', '02')))).toMatchObject({ kind: 'attempt_failed', reason: 'vnpay response 51, status 02' });
  });

  it('reads querydr payments and refunds, and nothing from a query that failed or a payment in progress', () => {
    const q = (type: string, status: string, amount = '5000000') => readVnpayQuerydrReport({ vnp_ResponseCode: '00', vnp_TxnRef: 'abc', vnp_TransactionType: type, vnp_TransactionStatus: status, vnp_Amount: amount, vnp_TransactionNo: '99' });
    expect(inputOf(q('01', '00'))).toMatchObject({ kind: 'captured' });
    expect(inputOf(q('01', '02'))).toMatchObject({ kind: 'attempt_failed' });
    expect(q('01', '01').kind).toBe('ignored');
    expect(inputOf(q('03', '00', '1000000'))).toMatchObject({ kind: 'refund', refundId: 'vnpay:99', counts: true, amount: new Decimal(10000) });
    expect(inputOf(q('02', '09'))).toMatchObject({ kind: 'refund', counts: false });
    expect(readVnpayQuerydrReport({ vnp_ResponseCode: '91' }).kind).toBe('ignored');
    expect(readVnpayQuerydrReport({ vnp_ResponseCode: '00', vnp_TxnRef: 'abc' }).kind).toBe('invalid');
  });

  it("reads a refund API answer 00 as a refund of its amount, any other code as none", () => {
    expect(inputOf(readVnpayRefundReport({ vnp_ResponseCode: '00', vnp_TxnRef: 'abc', vnp_TransactionNo: '77', vnp_Amount: '2000000' }))).toMatchObject({ kind: 'refund', refundId: 'vnpay:77', amount: new Decimal(20000) });
    expect(readVnpayRefundReport({ vnp_ResponseCode: '94' }).kind).toBe('ignored');
  });
});
