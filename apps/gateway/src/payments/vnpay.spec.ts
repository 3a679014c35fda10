import { Decimal } from '@billing/domain';
import { buildVnpayPaymentUrl, vnpayDate, vnpaySign, verifyVnpayIpn } from './vnpay';

const SECRET = 'unit-test-secret';

describe('vnpay', () => {
  it('writes dates in Vietnam time whatever the server zone', () => {
    expect(vnpayDate(new Date('2026-11-27T20:30:05Z'))).toBe('20261128033005');
  });

  it('signs the sorted, encoded parameters and verifies its own signature back', () => {
    const params = { vnp_TxnRef: 'abc', vnp_Amount: '1000000', vnp_OrderInfo: 'Nap tien vi abc', vnp_ResponseCode: '00', vnp_TransactionStatus: '00' };
    const ipn = verifyVnpayIpn({ ...params, vnp_SecureHash: vnpaySign(params, SECRET), other: 'ignored' }, SECRET);
    expect(ipn).toMatchObject({ txnRef: 'abc', responseCode: '00' });
    expect(ipn!.amount.toFixed()).toBe('10000');
    expect(verifyVnpayIpn({ ...params, vnp_Amount: '2000000', vnp_SecureHash: vnpaySign(params, SECRET) }, SECRET)).toBeNull();
    expect(verifyVnpayIpn({ ...params, vnp_SecureHash: vnpaySign(params, 'other') }, SECRET)).toBeNull();
    expect(verifyVnpayIpn({ ...params, vnp_TxnRef: ['a', 'b'], vnp_SecureHash: vnpaySign(params, SECRET) }, SECRET)).toBeNull();
  });

  it('refuses to build a payment URL in another currency than VND, or for fractions of a dong', () => {
    const base = { payUrl: 'https://pay.test/p', tmnCode: 'T', hashSecret: SECRET, returnUrl: 'https://x.test/r', txnRef: 'r', clientIp: '127.0.0.1', now: new Date() };
    expect(() => buildVnpayPaymentUrl({ ...base, amount: new Decimal('10'), currency: 'USD' })).toThrow(/VND only/);
    expect(() => buildVnpayPaymentUrl({ ...base, amount: new Decimal('10.5'), currency: 'VND' })).toThrow(/whole number/);
    expect(buildVnpayPaymentUrl({ ...base, amount: new Decimal('10000'), currency: 'VND' })).toContain('vnp_Amount=1000000&');
  });
});
