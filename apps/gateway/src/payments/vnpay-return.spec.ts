import { Decimal } from '@billing/domain';
import { vnpaySign, verifyVnpayIpn } from './vnpay';
import { vnpayReturnResult } from './vnpay-return';

const SECRET = 'unit-test-secret';

/** A return as VNPAY signs it: the same parameters and signature as its IPN. */
function signedReturn(fields: Record<string, string>): Record<string, string> {
  const params = { vnp_TxnRef: 'abc123', vnp_Amount: '25000000', vnp_ResponseCode: '00', vnp_TransactionStatus: '00', vnp_TransactionNo: '14000001', ...fields };
  return { ...params, vnp_SecureHash: vnpaySign(params, SECRET) };
}
const read = (query: Record<string, string>, amount = '250000') => vnpayReturnResult(verifyVnpayIpn(query, SECRET), { amount: new Decimal(amount) });

describe('the VNPAY return', () => {
  it('reads what VNPAY said: paid, cancelled (24), failed (any other code)', () => {
    expect(read(signedReturn({}))).toBe('paid');
    expect(read(signedReturn({ vnp_ResponseCode: '24', vnp_TransactionStatus: '02' }))).toBe('cancelled');
    expect(read(signedReturn({ vnp_ResponseCode: '51', vnp_TransactionStatus: '02' }))).toBe('failed');
    // Both codes must say paid.
    expect(read(signedReturn({ vnp_TransactionStatus: '01' }))).toBe('failed');
  });

  it('refuses a return whose signature does not hold: a field changed, the hash made up or missing, another secret', () => {
    const failed = signedReturn({ vnp_ResponseCode: '51', vnp_TransactionStatus: '02' });
    expect(read({ ...failed, vnp_ResponseCode: '00', vnp_TransactionStatus: '00' })).toBe('invalid_signature');
    expect(read({ ...signedReturn({}), vnp_Amount: '99900000000' })).toBe('invalid_signature');
    expect(read({ ...failed, vnp_SecureHash: 'ab'.repeat(64) })).toBe('invalid_signature');
    const { vnp_SecureHash: _, ...unsigned } = failed;
    expect(read(unsigned)).toBe('invalid_signature');
    const params = { vnp_TxnRef: 'abc123', vnp_Amount: '25000000', vnp_ResponseCode: '00', vnp_TransactionStatus: '00' };
    expect(read({ ...params, vnp_SecureHash: vnpaySign(params, 'another-secret') })).toBe('invalid_signature');
  });

  it('says so when the signed return is for no top-up of ours, or not of its amount', () => {
    expect(vnpayReturnResult(verifyVnpayIpn(signedReturn({}), SECRET), null)).toBe('unknown_order');
    expect(read(signedReturn({}), '100000')).toBe('amount_mismatch');
  });
});
