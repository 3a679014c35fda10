import { createHmac } from 'crypto';
import { deliver, FakeAnswer, FakeProvider, randomId, RecordedRequest } from './fake-provider';

/**
 * A local VNPAY, as VNPAY's integration guide (API 2.1.0) describes it, written from the guide
 * and not from the gateway's code: the payment page (`GET /paymentv2/vpcpay.html?...`, whose
 * vnp_SecureHash is HMAC-SHA512 over the sorted, URL-encoded `key=value` pairs), the IPN it
 * calls (a GET on the merchant's IPN URL, signed the same way), and the merchant API
 * (`POST /merchant_webapi/api/transaction`, JSON, `querydr` and `refund`, each request and
 * answer signed with HMAC-SHA512 over its fields in VNPAY's order joined by `|`). Answers the
 * API's codes: 00, 02 (merchant), 03 (data), 91 (not found), 94 (repeated request), 95 (refund
 * refused), 97 (checksum), 99.
 */
export interface FakeVnpayOptions {
  readonly tmnCode: string;
  readonly hashSecret: string;
}

interface Transaction {
  txnRef: string;
  /** x100, as VNPAY counts. */
  amount: number;
  orderInfo: string;
  createDate: string;
  returnUrl: string;
  status: 'open' | 'paid' | 'failed';
  transactionNo: string | null;
  responseCode: string | null;
  transactionStatus: string | null;
  payDate: string | null;
  refunded: number;
}

const QUERYDR_REQUEST = ['vnp_RequestId', 'vnp_Version', 'vnp_Command', 'vnp_TmnCode', 'vnp_TxnRef', 'vnp_TransactionDate', 'vnp_CreateDate', 'vnp_IpAddr', 'vnp_OrderInfo'];
const QUERYDR_RESPONSE = ['vnp_ResponseId', 'vnp_Command', 'vnp_ResponseCode', 'vnp_Message', 'vnp_TmnCode', 'vnp_TxnRef', 'vnp_Amount', 'vnp_BankCode', 'vnp_PayDate', 'vnp_TransactionNo', 'vnp_TransactionType', 'vnp_TransactionStatus', 'vnp_OrderInfo', 'vnp_PromotionCode', 'vnp_PromotionAmount'];
const REFUND_REQUEST = ['vnp_RequestId', 'vnp_Version', 'vnp_Command', 'vnp_TmnCode', 'vnp_TransactionType', 'vnp_TxnRef', 'vnp_Amount', 'vnp_TransactionNo', 'vnp_TransactionDate', 'vnp_CreateBy', 'vnp_CreateDate', 'vnp_IpAddr', 'vnp_OrderInfo'];
const REFUND_RESPONSE = ['vnp_ResponseId', 'vnp_Command', 'vnp_ResponseCode', 'vnp_Message', 'vnp_TmnCode', 'vnp_TxnRef', 'vnp_Amount', 'vnp_BankCode', 'vnp_PayDate', 'vnp_TransactionNo', 'vnp_TransactionType', 'vnp_TransactionStatus', 'vnp_OrderInfo'];

/** VNPAY's sample code: sorted keys, values encodeURIComponent'ed with %20 as +, joined unencoded. */
export function vnpaySortedQuery(params: Record<string, string>, secret: string): string {
  const data = Object.keys(params)
    .sort()
    .map((k) => `${k}=${encodeURIComponent(params[k]).replace(/%20/g, '+')}`)
    .join('&');
  return `${data}&vnp_SecureHash=${createHmac('sha512', secret).update(Buffer.from(data, 'utf-8')).digest('hex')}`;
}

const pipeHash = (message: Record<string, unknown>, fields: string[], secret: string) =>
  createHmac('sha512', secret)
    .update(fields.map((f) => (message[f] === undefined || message[f] === null ? '' : String(message[f]))).join('|'), 'utf8')
    .digest('hex');

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function vietnamNow(): string {
  return new Date(Date.now() + 7 * 3600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export class FakeVnpay extends FakeProvider {
  readonly transactions = new Map<string, Transaction>();
  /** Where VNPAY calls the IPN: the gateway's `/webhooks/vnpay/ipn` (set in VNPAY's merchant portal). */
  ipnUrl: string | null = null;
  /** Whether payments made on the payment page hold their IPN until `releaseIpn` (the browser is back before VNPAY's IPN). */
  holdIpns = false;
  private readonly heldIpns = new Map<string, string>();
  private readonly requestIds = new Set<string>();
  private vnpayErrors = 0;
  private tampered = 0;

  constructor(readonly options: FakeVnpayOptions) {
    super();
  }

  /** The base to give as VNPAY_PAY_URL. */
  get payUrl(): string {
    return `${this.url}/paymentv2/vpcpay.html`;
  }

  /** The base to give as VNPAY_API_URL. */
  get apiUrl(): string {
    return `${this.url}/merchant_webapi/api/transaction`;
  }

  /** The next API answers are changed after VNPAY signed them (their checksum no longer verifies). */
  tamperNext(times = 1): void {
    this.tampered += times;
  }

  /** The next API requests answer VNPAY's own error 99 (HTTP 200). */
  error99Next(times = 1): void {
    this.vnpayErrors += times;
  }

  protected faultBody(status: number): unknown {
    return `<html><body><h1>${status}</h1></body></html>`;
  }

  protected async handle(request: RecordedRequest): Promise<FakeAnswer> {
    const url = new URL(request.url, 'http://fake');
    if (request.method === 'GET' && url.pathname === '/paymentv2/vpcpay.html') return this.paymentPage(url.searchParams);
    if (request.method === 'POST' && url.pathname === '/paymentv2/pay') return this.payerChoice(new URLSearchParams(request.body));
    if (request.method === 'POST' && url.pathname === '/merchant_webapi/api/transaction') return this.api(request);
    return { status: 404, body: '<html><body>Not found</body></html>' };
  }

  /** The browser arrives with the signed payment URL: checked as VNPAY checks it, and the transaction opened. */
  private paymentPage(query: URLSearchParams): FakeAnswer {
    const params: Record<string, string> = {};
    let hash = '';
    for (const [k, v] of query) {
      if (k === 'vnp_SecureHash') hash = v;
      else if (k !== 'vnp_SecureHashType') params[k] = v;
    }
    const expected = vnpaySortedQuery(params, this.options.hashSecret).split('vnp_SecureHash=')[1];
    if (hash.toLowerCase() !== expected) return { status: 200, body: '<html><body>Sai chữ ký (invalid signature), code=70</body></html>' };
    if (params.vnp_TmnCode !== this.options.tmnCode) return { status: 200, body: '<html><body>Website này chưa được phê duyệt, code=72</body></html>' };
    if (params.vnp_Version !== '2.1.0' || params.vnp_Command !== 'pay' || params.vnp_CurrCode !== 'VND' || !/^[0-9]+$/.test(params.vnp_Amount ?? '')) return { status: 200, body: '<html><body>Dữ liệu gửi sang không đúng định dạng, code=03</body></html>' };
    if (!this.transactions.has(params.vnp_TxnRef)) {
      this.transactions.set(params.vnp_TxnRef, {
        txnRef: params.vnp_TxnRef,
        amount: Number(params.vnp_Amount),
        orderInfo: params.vnp_OrderInfo,
        createDate: params.vnp_CreateDate,
        returnUrl: params.vnp_ReturnUrl,
        status: 'open',
        transactionNo: null,
        responseCode: null,
        transactionStatus: null,
        payDate: null,
        refunded: 0,
      });
    }
    // The buyer's choice, as on VNPAY's page: pay (00) or cancel (24); VNPAY then calls the IPN and sends the browser back.
    const txnRef = escapeHtml(params.vnp_TxnRef);
    const button = (code: string, label: string, testId: string) =>
      `<form method="post" action="/paymentv2/pay"><input type="hidden" name="txnRef" value="${txnRef}"><input type="hidden" name="code" value="${code}"><button type="submit" data-testid="${testId}">${label}</button></form>`;
    return {
      status: 200,
      body: `<!doctype html><html><head><meta charset="utf-8"><title>VNPAY (fake)</title></head><body><h1>VNPAY (fake): thanh toan ${txnRef}</h1><p>${escapeHtml(String(Number(params.vnp_Amount) / 100))} VND</p>${button('00', 'Thanh toán (pay)', 'vnpay-pay')}${button('24', 'Hủy (cancel)', 'vnpay-cancel')}</body></html>`,
    };
  }

  /** The buyer pressed a button on the payment page: the IPN goes out (or is held, `holdIpns`) and the browser is sent to the return URL. */
  private async payerChoice(form: URLSearchParams): Promise<FakeAnswer> {
    const txnRef = form.get('txnRef') ?? '';
    const code = /^[0-9]{2}$/.test(form.get('code') ?? '') ? form.get('code')! : '99';
    if (!this.transactions.has(txnRef)) return { status: 200, body: '<html><body>Không tìm thấy giao dịch (no such transaction)</body></html>' };
    const { query, returnUrl } = this.complete(txnRef, code);
    if (this.holdIpns) this.heldIpns.set(txnRef, query);
    else await this.sendIpn(query);
    return { status: 302, headers: { location: returnUrl }, body: '' };
  }

  /** The IPN of a payment made on the page while `holdIpns` was on, sent now (VNPAY's IPN came late). */
  async releaseIpn(txnRef: string): Promise<{ status: number; body: any }> {
    const query = this.heldIpns.get(txnRef);
    if (!query) throw new Error(`fake VNPAY holds no IPN for ${txnRef}`);
    this.heldIpns.delete(txnRef);
    return this.sendIpn(query);
  }

  /**
   * The return URL VNPAY would send the browser to for this transaction and code, signed, without
   * paying, calling the IPN or changing anything (what a buyer holds after a payment, to be tampered with).
   */
  signedReturnUrl(txnRef: string, responseCode: string): string {
    const txn = this.transactions.get(txnRef);
    if (!txn) throw new Error(`fake VNPAY has no transaction ${txnRef}`);
    const query = vnpaySortedQuery(this.resultParams(txn, responseCode, randomId(8, '0123456789'), vietnamNow()), this.options.hashSecret);
    return `${txn.returnUrl}${txn.returnUrl.includes('?') ? '&' : '?'}${query}`;
  }

  /**
   * The buyer pays on VNPAY's page (`responseCode` 00), or not (24: cancelled, 51: no funds...):
   * VNPAY calls the IPN with the result and sends the browser to the return URL. Returns the
   * merchant's answer to the IPN and the return URL the browser is sent to.
   */
  async pay(txnRef: string, responseCode = '00'): Promise<{ ipn: { status: number; body: any }; returnUrl: string }> {
    const txn = this.transactions.get(txnRef);
    if (!txn) throw new Error(`fake VNPAY has no transaction ${txnRef} (the browser never opened its payment URL)`);
    if (!this.ipnUrl) throw new Error('fake VNPAY has no IPN URL');
    const { query, returnUrl } = this.complete(txnRef, responseCode);
    const ipn = await this.sendIpn(query);
    return { ipn, returnUrl };
  }

  /** The transaction ends with `responseCode`: its state, and the signed result VNPAY sends to the IPN and the return URL alike. */
  private complete(txnRef: string, responseCode: string): { query: string; returnUrl: string } {
    const txn = this.transactions.get(txnRef)!;
    const paid = responseCode === '00';
    Object.assign(txn, {
      status: paid ? 'paid' : 'failed',
      transactionNo: txn.transactionNo ?? randomId(8, '0123456789'),
      responseCode,
      transactionStatus: paid ? '00' : '02',
      payDate: vietnamNow(),
    });
    const query = vnpaySortedQuery(this.resultParams(txn, responseCode, txn.transactionNo!, txn.payDate!), this.options.hashSecret);
    return { query, returnUrl: `${txn.returnUrl}${txn.returnUrl.includes('?') ? '&' : '?'}${query}` };
  }

  private resultParams(txn: Transaction, responseCode: string, transactionNo: string, payDate: string): Record<string, string> {
    return {
      vnp_Amount: String(txn.amount),
      vnp_BankCode: 'NCB',
      vnp_BankTranNo: `VNP${transactionNo}`,
      vnp_CardType: 'ATM',
      vnp_OrderInfo: txn.orderInfo,
      vnp_PayDate: payDate,
      vnp_ResponseCode: responseCode,
      vnp_TmnCode: this.options.tmnCode,
      vnp_TransactionNo: transactionNo,
      vnp_TransactionStatus: responseCode === '00' ? '00' : '02',
      vnp_TxnRef: txn.txnRef,
    };
  }

  private sendIpn(query: string): Promise<{ status: number; body: any }> {
    if (!this.ipnUrl) throw new Error('fake VNPAY has no IPN URL');
    return deliver(`${this.ipnUrl}?${query}`, 'GET', { 'user-agent': 'VNPAY-IPN (fake)' });
  }

  private answer(command: string, code: string, message: string, fields: string[], txn?: Transaction, extra: Record<string, string> = {}): FakeAnswer {
    const body: Record<string, string> = {
      vnp_ResponseId: randomId(32, '0123456789abcdef'),
      vnp_Command: command,
      vnp_ResponseCode: code,
      vnp_Message: message,
      vnp_TmnCode: this.options.tmnCode,
      ...(txn
        ? {
            vnp_TxnRef: txn.txnRef,
            vnp_Amount: String(txn.amount),
            vnp_OrderInfo: txn.orderInfo,
            vnp_BankCode: 'NCB',
            vnp_PayDate: txn.payDate ?? '',
            vnp_TransactionNo: txn.transactionNo ?? '',
            vnp_TransactionType: '01',
            vnp_TransactionStatus: txn.transactionStatus ?? '01',
          }
        : {}),
      ...extra,
    };
    const signed: Record<string, string> = { ...body, vnp_SecureHash: pipeHash(body, fields, this.options.hashSecret) };
    if (this.tampered > 0) {
      this.tampered--;
      signed.vnp_Amount = `${signed.vnp_Amount ?? ''}00`;
    }
    return { status: 200, body: signed };
  }

  private api(request: RecordedRequest): FakeAnswer {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(request.body);
    } catch {
      return { status: 200, body: { vnp_ResponseCode: '03', vnp_Message: 'Invalid data format' } };
    }
    const command = String(body.vnp_Command ?? '');
    const isRefund = command === 'refund';
    if (command !== 'querydr' && !isRefund) return { status: 200, body: { vnp_ResponseCode: '03', vnp_Message: 'Invalid command' } };
    const fields = isRefund ? REFUND_REQUEST : QUERYDR_REQUEST;
    const responseFields = isRefund ? REFUND_RESPONSE : QUERYDR_RESPONSE;
    for (const f of fields) if (typeof body[f] !== 'string' || body[f] === '') return this.answer(command, '03', `Missing ${f}`, responseFields);
    if (body.vnp_TmnCode !== this.options.tmnCode) return this.answer(command, '02', 'Invalid TmnCode', responseFields);
    if (String(body.vnp_SecureHash ?? '').toLowerCase() !== pipeHash(body, fields, this.options.hashSecret)) return { status: 200, body: { vnp_ResponseId: randomId(32, '0123456789abcdef'), vnp_Command: command, vnp_ResponseCode: '97', vnp_Message: 'Invalid checksum' } };
    const requestId = String(body.vnp_RequestId);
    if (!/^[A-Za-z0-9]{1,32}$/.test(requestId)) return this.answer(command, '03', 'Invalid vnp_RequestId', responseFields);
    if (this.requestIds.has(requestId)) return this.answer(command, '94', 'Duplicate request', responseFields, this.transactions.get(String(body.vnp_TxnRef)));
    this.requestIds.add(requestId);
    if (this.vnpayErrors > 0) {
      this.vnpayErrors--;
      this.requestIds.delete(requestId);
      return this.answer(command, '99', 'Unknow error', responseFields);
    }
    const txn = this.transactions.get(String(body.vnp_TxnRef));
    if (!txn) return this.answer(command, '91', 'Not found', responseFields);
    if (!isRefund) return this.answer(command, '00', 'QueryDR Success', responseFields, txn, { vnp_PromotionCode: '', vnp_PromotionAmount: '' });
    if (txn.status !== 'paid') return this.answer(command, '95', 'Transaction is not successful, refund refused', responseFields, txn);
    const amount = Number(body.vnp_Amount);
    const left = txn.amount - txn.refunded;
    const type = String(body.vnp_TransactionType);
    if (!/^[0-9]+$/.test(String(body.vnp_Amount)) || amount <= 0 || amount > left || (type === '02' && amount !== txn.amount) || (type !== '02' && type !== '03')) {
      return this.answer(command, '03', 'Invalid refund amount or type', responseFields, txn);
    }
    txn.refunded += amount;
    txn.transactionStatus = '05';
    return this.answer(command, '00', 'Refund success', responseFields, txn, { vnp_Amount: String(amount), vnp_TransactionType: type, vnp_TransactionNo: randomId(8, '0123456789') });
  }
}
