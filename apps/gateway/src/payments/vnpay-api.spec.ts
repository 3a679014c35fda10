import { Logger } from '@nestjs/common';
import { Decimal } from '@billing/domain';
import { FakeVnpay } from '../../../../test/support/fake-vnpay';
import { ProviderCallPolicy } from './provider-call';
import { buildVnpayPaymentUrl } from './vnpay';
import { VNPAY_SIGNED_FIELDS, VnpayApiClient, vnpayApiSign, vnpayApiSignData, vnpayApiVerify } from './vnpay-api';

/** VNPAY's querydr and refund against a local VNPAY written from VNPAY's guide (test/support/fake-vnpay.ts). */
const TMN = 'UNITTMN1';
const SECRET = 'UNITVNPAYSECRET0123456789ABCDEF';
const POLICY: ProviderCallPolicy = { timeoutMs: 500, maxRetries: 2, retryBaseMs: 10, maxRetryDelayMs: 2000 };

describe('VNPAY merchant API', () => {
  let vnpay: FakeVnpay;
  let client: VnpayApiClient;
  let n = 0;

  beforeAll(async () => {
    if (!process.env.TEST_LOGS) Logger.overrideLogger(false);
    vnpay = await new FakeVnpay({ tmnCode: TMN, hashSecret: SECRET }).start();
    // The IPN goes nowhere useful here: these tests are about the API.
    vnpay.ipnUrl = `${vnpay.url}/ipn-sink`;
    client = new VnpayApiClient({ tmnCode: TMN, hashSecret: SECRET, apiUrl: vnpay.apiUrl, serverIp: '10.0.0.1', policy: POLICY });
  });

  afterAll(() => vnpay.stop());
  afterEach(() => vnpay.clearFaults());

  /** A transaction opened at VNPAY as a browser opens it, paid (or not); its txnRef and creation time. */
  async function transaction(amountVnd: string, responseCode: string | null = '00'): Promise<{ txnRef: string; createdAt: Date }> {
    const txnRef = `unit${Date.now()}${++n}`;
    const createdAt = new Date();
    const url = buildVnpayPaymentUrl({ payUrl: vnpay.payUrl, tmnCode: TMN, hashSecret: SECRET, returnUrl: 'https://portal.test/topup', txnRef, amount: new Decimal(amountVnd), currency: 'VND', clientIp: '127.0.0.1', now: createdAt });
    expect(await (await fetch(url)).text()).toContain(txnRef);
    if (responseCode) await vnpay.pay(txnRef, responseCode);
    return { txnRef, createdAt };
  }

  it('signs the fields in VNPAY\'s order joined by |, and verifies an answer only with its own checksum', () => {
    const message = { vnp_RequestId: 'r1', vnp_Version: '2.1.0', vnp_Command: 'querydr', vnp_TmnCode: TMN, vnp_TxnRef: 't1', vnp_TransactionDate: '20261127100000', vnp_CreateDate: '20261127100500', vnp_IpAddr: '10.0.0.1', vnp_OrderInfo: 'q' };
    expect(vnpayApiSignData(message, VNPAY_SIGNED_FIELDS.querydrRequest)).toBe('r1|2.1.0|querydr|UNITTMN1|t1|20261127100000|20261127100500|10.0.0.1|q');
    const signed = { ...message, vnp_SecureHash: vnpayApiSign(message, VNPAY_SIGNED_FIELDS.querydrRequest, SECRET) };
    expect(vnpayApiVerify(signed, VNPAY_SIGNED_FIELDS.querydrRequest, SECRET)).toBe(true);
    expect(vnpayApiVerify({ ...signed, vnp_TxnRef: 't2' }, VNPAY_SIGNED_FIELDS.querydrRequest, SECRET)).toBe(false);
    expect(vnpayApiVerify(signed, VNPAY_SIGNED_FIELDS.querydrRequest, 'other')).toBe(false);
  });

  it('asks querydr with a signed JSON POST and reads a paid transaction in dong', async () => {
    const { txnRef, createdAt } = await transaction('150000');
    const result = await client.queryTransaction({ txnRef, transactionDate: createdAt });
    expect(result).toMatchObject({ found: true, txnRef, transactionStatus: '00', paid: true, transactionNo: expect.stringMatching(/^[0-9]{8}$/), bankCode: 'NCB' });
    expect(result.found && result.amount!.toFixed()).toBe('150000');
    const sent = JSON.parse(vnpay.requestsTo(/^POST \/merchant_webapi/).at(-1)!.body);
    expect(sent).toMatchObject({ vnp_Command: 'querydr', vnp_Version: '2.1.0', vnp_TmnCode: TMN, vnp_TxnRef: txnRef, vnp_IpAddr: '10.0.0.1', vnp_RequestId: expect.stringMatching(/^[0-9a-f]{32}$/), vnp_SecureHash: expect.stringMatching(/^[0-9a-f]{128}$/) });
  });

  it('reads an unpaid transaction as such, and an unknown one as not found', async () => {
    const { txnRef, createdAt } = await transaction('20000', '24');
    expect(await client.queryTransaction({ txnRef, transactionDate: createdAt })).toMatchObject({ found: true, paid: false, transactionStatus: '02' });
    expect(await client.queryTransaction({ txnRef: 'nosuchtxn', transactionDate: new Date() })).toEqual({ found: false });
  });

  it('retries HTTP 503, 429 and VNPAY\'s error 99, and a timeout', async () => {
    const { txnRef, createdAt } = await transaction('10000');
    vnpay.failNext(1, 503, { match: /merchant_webapi/ });
    vnpay.error99Next(1);
    expect(await client.queryTransaction({ txnRef, transactionDate: createdAt })).toMatchObject({ found: true, paid: true });
    vnpay.failNext(2, 429, { retryAfter: '0', match: /merchant_webapi/ });
    expect(await client.queryTransaction({ txnRef, transactionDate: createdAt })).toMatchObject({ found: true, paid: true });
    vnpay.stallNext(1, 2000, { match: /merchant_webapi/ });
    expect(await client.queryTransaction({ txnRef, transactionDate: createdAt })).toMatchObject({ paid: true });
    vnpay.failNext(POLICY.maxRetries + 1, 502, { match: /merchant_webapi/ });
    await expect(client.queryTransaction({ txnRef, transactionDate: createdAt })).rejects.toMatchObject({ provider: 'vnpay', kind: 'unavailable', details: { status: 502 } });
  });

  it('refuses an answer whose checksum does not verify, and says so when VNPAY refuses ours (97)', async () => {
    const { txnRef, createdAt } = await transaction('10000');
    vnpay.tamperNext(1);
    await expect(client.queryTransaction({ txnRef, transactionDate: createdAt })).rejects.toThrow(/checksum does not verify/);
    const wrongSecret = new VnpayApiClient({ tmnCode: TMN, hashSecret: 'not-the-secret', apiUrl: vnpay.apiUrl, serverIp: '10.0.0.1', policy: POLICY });
    await expect(wrongSecret.queryTransaction({ txnRef, transactionDate: createdAt })).rejects.toMatchObject({ kind: 'unauthorized', details: { code: '97' } });
  });

  it('refunds part of a payment (03), then in full is refused past what is left; an unpaid one is refused (95)', async () => {
    const { txnRef, createdAt } = await transaction('100000');
    const part = await client.refund({ txnRef, amount: new Decimal('40000'), full: false, transactionNo: vnpay.transactions.get(txnRef)!.transactionNo, transactionDate: createdAt, createBy: 'operator-1' });
    expect(part).toMatchObject({ status: 'accepted', requestId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(part.amount!.toFixed()).toBe('40000');
    const sent = JSON.parse(vnpay.requestsTo(/^POST \/merchant_webapi/).at(-1)!.body);
    expect(sent).toMatchObject({ vnp_Command: 'refund', vnp_TransactionType: '03', vnp_Amount: '4000000', vnp_CreateBy: 'operator-1' });
    await expect(client.refund({ txnRef, amount: new Decimal('100000'), full: true, transactionNo: null, transactionDate: createdAt, createBy: 'operator-1' })).rejects.toMatchObject({ kind: 'invalid', details: { code: '03' } });
    const unpaid = await transaction('5000', '24');
    await expect(client.refund({ txnRef: unpaid.txnRef, amount: new Decimal('5000'), full: true, transactionNo: null, transactionDate: unpaid.createdAt, createBy: 'operator-1' })).rejects.toMatchObject({ kind: 'declined', details: { code: '95' } });
    await expect(client.refund({ txnRef, amount: new Decimal('0.5'), full: false, transactionNo: null, transactionDate: createdAt, createBy: 'x' })).rejects.toMatchObject({ kind: 'invalid' });
  });

  it('keeps a refund\'s request id across attempts: an answer lost to a timeout is retried and VNPAY sees one refund (94)', async () => {
    const { txnRef, createdAt } = await transaction('60000');
    vnpay.stallNext(1, 2000, { process: true, match: /merchant_webapi/ });
    const result = await client.refund({ txnRef, amount: new Decimal('60000'), full: true, transactionNo: null, transactionDate: createdAt, createBy: 'operator-1' });
    expect(result.status).toBe('already_requested');
    const refunds = vnpay.requestsTo(/^POST \/merchant_webapi/).slice(-2).map((r) => JSON.parse(r.body));
    expect(refunds[0].vnp_RequestId).toBe(refunds[1].vnp_RequestId);
    expect(vnpay.transactions.get(txnRef)!.refunded).toBe(6_000_000);
    // The same refund asked again by its id is the same answer, not a second refund.
    expect((await client.refund({ txnRef, amount: new Decimal('60000'), full: true, transactionNo: null, transactionDate: createdAt, createBy: 'operator-1', requestId: result.requestId })).status).toBe('already_requested');
  });
});
