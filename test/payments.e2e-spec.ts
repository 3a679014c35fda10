import { execFileSync } from 'child_process';
import { createHmac, generateKeyPairSync, sign } from 'crypto';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import Stripe from 'stripe';
import { sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { startGateway, TestGateway } from './support/gateway';
import { eventually } from './support/lifecycle';

/**
 * Top-ups through Stripe, VNPAY and PayPal, against the real engine, gateway, Postgres and NATS.
 * Every webhook is signed here the way its provider signs it, with this test's own secrets and
 * a self-signed certificate made at test time; the gateway knows them only through its config.
 */
const STRIPE_SECRET = 'whsec_test_payments_0123456789';
const VNPAY_SECRET = 'VNPAYTESTSECRET0123456789ABCDEF';
const VNPAY_TMN = 'TESTTMN1';
const PAYPAL_WEBHOOK_ID = 'WH-TEST-1234567890';
const STORM_SIZE = 50;

/** A CRC-32 of our own (IEEE), so the test does not trust the code under test for what PayPal computes. */
function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** VNPAY's own sample: sorted keys, values encodeURIComponent with %20 as +, joined unencoded. */
function vnpayQuery(params: Record<string, string>, secret: string): string {
  const data = Object.keys(params)
    .sort()
    .map((k) => `${k}=${encodeURIComponent(params[k]).replace(/%20/g, '+')}`)
    .join('&');
  return `${data}&vnp_SecureHash=${createHmac('sha512', secret).update(Buffer.from(data, 'utf-8')).digest('hex')}`;
}

describe('payments: top-ups through Stripe, VNPAY and PayPal', () => {
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;
  let certDir: string;
  let paypalKey: string;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    certDir = mkdtempSync(path.join(tmpdir(), 'paypal-cert-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem'), '-days', '2', '-subj', '/CN=messageverificationcerts.test'], { stdio: 'ignore' });
    paypalKey = readFileSync(path.join(certDir, 'key.pem'), 'utf8');
    Object.assign(process.env, {
      STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
      VNPAY_HASH_SECRET: VNPAY_SECRET,
      VNPAY_TMN_CODE: VNPAY_TMN,
      PAYPAL_WEBHOOK_ID,
      PAYPAL_CERT_PEM: readFileSync(path.join(certDir, 'cert.pem'), 'utf8'),
      PAYMENTS_SWEEP_INTERVAL_MS: '200',
      PAYMENTS_SWEEP_MIN_AGE_MS: '1000',
    });
    engine = await startEngine();
    gateway = await startGateway(engine.config.subjectPrefix);
    client = await WalletClient.connect(engine.config.subjectPrefix);
  });

  afterAll(async () => {
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    process.env = savedEnv;
    rmSync(certDir, { recursive: true, force: true });
  });

  async function startTopup(org: string, body: object): Promise<{ status: number; body: any }> {
    const res = await fetch(`${gateway.url}/api/v1/topups`, { method: 'POST', headers: { authorization: `Bearer ${gateway.token(org)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  }

  async function post(route: string, payload: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
    const res = await fetch(`${gateway.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload });
    return { status: res.status, body: await res.json() };
  }

  const balance = async (org: string) => (await client.request(org, 'balance')).balance;
  const ledger = async (org: string): Promise<any[]> => (await client.request(org, 'ledger', { cursor: 0, limit: 500 })).entries;
  const intentRow = async (id: string) => (await sql('select status, credited_at, failure_reason from topup_intents where id = $1', [id]))[0];

  describe('Stripe', () => {
    const org = 'pay-stripe';

    function stripeEvent(type: string, object: object, secret = STRIPE_SECRET): { payload: string; headers: Record<string, string> } {
      const payload = JSON.stringify({ id: `evt_${Math.random().toString(36).slice(2)}`, object: 'event', type, data: { object } });
      return { payload, headers: { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }) } };
    }
    const succeeded = (pi: string, topupId: string, amountReceived: number, currency = 'usd') =>
      stripeEvent('payment_intent.succeeded', { id: pi, object: 'payment_intent', amount_received: amountReceived, currency, metadata: { topupId } });

    async function newIntent(amount = '100.00') {
      const started = await startTopup(org, { amount, currency: 'USD', provider: 'stripe' });
      expect(started.status).toBe(201);
      return started.body.topup;
    }

    it('records a pending top-up and returns a PaymentIntent-style reference', async () => {
      const topup = await newIntent();
      expect(topup).toMatchObject({ status: 'pending', amount: '100.00', currency: 'USD', provider: 'stripe', stripe: { paymentIntentId: expect.stringMatching(/^pi_/), clientSecret: expect.stringMatching(/^pi_.+_secret_/) } });
      expect((await intentRow(topup.id)).status).toBe('pending');
      expect(await balance(org)).toMatchObject({ currency: null });
    });

    it('credits a signed payment_intent.succeeded once, even when 50 copies arrive at once', async () => {
      const topup = await newIntent('100.00');
      const event = succeeded(topup.stripe.paymentIntentId, topup.id, 10000);
      const answers = await Promise.all(Array.from({ length: STORM_SIZE }, () => post('/webhooks/stripe', event.payload, event.headers)));
      expect(answers.every((a) => a.status === 200)).toBe(true);
      expect(answers.filter((a) => a.body.outcome === 'credited')).toHaveLength(1);
      expect(answers.filter((a) => a.body.outcome === 'already_settled')).toHaveLength(STORM_SIZE - 1);
      expect(await balance(org)).toMatchObject({ total: '100.00', currency: 'USD' });
      expect((await ledger(org)).filter((e) => e.type === 'topup')).toHaveLength(1);
      expect(await intentRow(topup.id)).toMatchObject({ status: 'succeeded', credited_at: expect.any(Date) });
      // replayed later: the top-up is settled, nothing more is credited
      const replay = await post('/webhooks/stripe', event.payload, event.headers);
      expect(replay).toEqual({ status: 200, body: { received: true, outcome: 'already_settled' } });
      expect((await balance(org)).total).toBe('100.00');
    });

    it('refuses a bad signature with 400 and credits nothing', async () => {
      const topup = await newIntent('5.00');
      const forged = succeeded(topup.stripe.paymentIntentId, topup.id, 500, 'usd');
      const other = stripeEvent('payment_intent.succeeded', JSON.parse(forged.payload).data.object, 'whsec_someone_else');
      expect((await post('/webhooks/stripe', forged.payload, other.headers)).status).toBe(400);
      expect((await post('/webhooks/stripe', forged.payload.replace('500', '900'), forged.headers)).status).toBe(400);
      expect((await post('/webhooks/stripe', forged.payload, {})).status).toBe(400);
      expect((await intentRow(topup.id)).status).toBe('pending');
      expect((await balance(org)).total).toBe('100.00');
    });

    it('credits nothing for an unknown top-up, a wrong amount or a wrong currency, and answers 200', async () => {
      const topup = await newIntent('7.00');
      const unknown = succeeded('pi_unknown123', topup.id, 700);
      expect((await post('/webhooks/stripe', unknown.payload, unknown.headers)).body.outcome).toBe('unknown_topup');
      const otherTopup = succeeded(topup.stripe.paymentIntentId, '00000000-0000-4000-8000-000000000000', 700);
      expect((await post('/webhooks/stripe', otherTopup.payload, otherTopup.headers)).body.outcome).toBe('unknown_topup');
      const wrongAmount = succeeded(topup.stripe.paymentIntentId, topup.id, 600);
      expect(await post('/webhooks/stripe', wrongAmount.payload, wrongAmount.headers)).toEqual({ status: 200, body: { received: true, outcome: 'amount_mismatch' } });
      const wrongCurrency = succeeded(topup.stripe.paymentIntentId, topup.id, 700, 'jpy');
      expect((await post('/webhooks/stripe', wrongCurrency.payload, wrongCurrency.headers)).body.outcome).toBe('currency_mismatch');
      expect((await intentRow(topup.id)).status).toBe('pending');
      expect((await balance(org)).total).toBe('100.00');
    });

    it('marks a top-up whose payment failed as failed and credits nothing; the failure replayed changes nothing', async () => {
      const topup = await newIntent('9.00');
      const failed = stripeEvent('payment_intent.payment_failed', { id: topup.stripe.paymentIntentId, object: 'payment_intent', last_payment_error: { message: 'card declined' } });
      expect((await post('/webhooks/stripe', failed.payload, failed.headers)).body.outcome).toBe('failed');
      expect(await intentRow(topup.id)).toMatchObject({ status: 'failed', credited_at: null, failure_reason: expect.stringContaining('card declined') });
      expect((await post('/webhooks/stripe', failed.payload, failed.headers)).body.outcome).toBe('already_settled');
      expect((await balance(org)).total).toBe('100.00');
    });

    it('refuses up front a top-up in another currency than the billing currency', async () => {
      const refused = await startTopup(org, { amount: '50000', currency: 'VND', provider: 'stripe' });
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('CURRENCY_LOCKED');
      const vnpay = await startTopup(org, { amount: '50000', currency: 'VND', provider: 'vnpay' });
      expect(vnpay.status).toBe(409);
    });

    it('refuses bad input: too many decimals, unknown provider, a JSON number', async () => {
      expect((await startTopup(org, { amount: '1.005', currency: 'USD', provider: 'stripe' })).body.error.code).toBe('TOO_MANY_DECIMALS');
      expect((await startTopup(org, { amount: '1.00', currency: 'USD', provider: 'cash' })).status).toBe(400);
      expect((await startTopup(org, { amount: 1, currency: 'USD', provider: 'stripe' })).body.error.code).toBe('INVALID_AMOUNT');
      const noToken = await fetch(`${gateway.url}/api/v1/topups`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(noToken.status).toBe(401);
    });

    it('takes back a charged-back top-up with a reversal entry, and the wallet may go into debt', async () => {
      const debtor = 'pay-stripe-debt';
      const started = await startTopup(debtor, { amount: '30.00', currency: 'USD', provider: 'stripe' });
      const topup = started.body.topup;
      const ok = stripeEvent('payment_intent.succeeded', { id: topup.stripe.paymentIntentId, amount_received: 3000, currency: 'usd', metadata: { topupId: topup.id } });
      expect((await post('/webhooks/stripe', ok.payload, ok.headers)).body.outcome).toBe('credited');
      await client.request(debtor, 'debit', { idempotencyKey: 'use-1', amount: '20', service: 'gpu-container', workspaceId: 'ws-1' });
      const dispute = stripeEvent('charge.dispute.created', { id: 'dp_1', object: 'dispute', payment_intent: topup.stripe.paymentIntentId, amount: 3000, currency: 'usd', status: 'needs_response', reason: 'fraudulent' });
      const answers = await Promise.all(Array.from({ length: 10 }, () => post('/webhooks/stripe', dispute.payload, dispute.headers)));
      expect(answers.filter((a) => a.body.outcome === 'reversed')).toHaveLength(1);
      const entries = await ledger(debtor);
      const reversals = entries.filter((e) => e.type === 'reversal');
      expect(reversals).toHaveLength(1);
      expect(reversals[0]).toMatchObject({ amount: '-30', reference: `stripe:${topup.stripe.paymentIntentId}` });
      expect(await balance(debtor)).toMatchObject({ total: '-20.00' });
      expect((await intentRow(topup.id)).status).toBe('disputed');
      // history is kept: the top-up entry is still there
      expect(entries.filter((e) => e.type === 'topup')).toHaveLength(1);
    });

    it('credits a top-up that was settled but whose credit was never confirmed (a crash), through the sweep', async () => {
      const crashed = 'pay-stripe-sweep';
      const started = await startTopup(crashed, { amount: '12.00', currency: 'USD', provider: 'stripe' });
      const id = started.body.topup.id;
      // what the gateway stored before it stopped: the capture and its credit, not yet sent
      const facts = [{ key: 'stripe:evt_crash', at: null, input: { kind: 'captured', amount: '12', captureRef: null } }];
      const changes = [{ seq: 1, kind: 'credit', amount: '12', idempotencyKey: `topup:${id}`, cause: 'stripe:evt_crash', reason: 'credit: succeeded' }];
      await sql(`update topup_intents set status = 'succeeded', settled_at = now(), settlement_facts = $2, ledger_changes = $3, version = version + 1, updated_at = now() - interval '5 seconds' where id = $1`, [id, JSON.stringify(facts), JSON.stringify(changes)]);
      await eventually(() => intentRow(id), (r) => r.credited_at !== null);
      expect(await balance(crashed)).toMatchObject({ total: '12.00' });
      expect((await ledger(crashed)).filter((e) => e.type === 'topup')).toHaveLength(1);
    });
  });

  describe('VNPAY', () => {
    const org = 'pay-vnpay';

    async function newIntent(amount = '50000') {
      const started = await startTopup(org, { amount, currency: 'VND', provider: 'vnpay' });
      expect(started.status).toBe(201);
      return started.body.topup;
    }

    function ipn(txnRef: string, amountVnd: string, overrides: Record<string, string> = {}, secret = VNPAY_SECRET): string {
      return vnpayQuery(
        {
          vnp_Amount: (BigInt(amountVnd) * 100n).toString(),
          vnp_BankCode: 'NCB',
          vnp_BankTranNo: 'VNP14226112',
          vnp_CardType: 'ATM',
          vnp_OrderInfo: `Nap tien vi ${txnRef}`,
          vnp_PayDate: '20261127153333',
          vnp_ResponseCode: '00',
          vnp_TmnCode: VNPAY_TMN,
          vnp_TransactionNo: '14226112',
          vnp_TransactionStatus: '00',
          vnp_TxnRef: txnRef,
          ...overrides,
        },
        secret,
      );
    }
    const sendIpn = async (query: string): Promise<any> => (await fetch(`${gateway.url}/webhooks/vnpay/ipn?${query}`)).json();

    it('returns a payment URL signed as VNPAY checks it, in VND x 100', async () => {
      const topup = await newIntent('50000');
      const url = new URL(topup.vnpay.paymentUrl);
      expect(url.origin + url.pathname).toBe('https://sandbox.vnpayment.vn/paymentv2/vpcpay.html');
      const params = Object.fromEntries(url.searchParams);
      expect(params).toMatchObject({ vnp_Version: '2.1.0', vnp_Command: 'pay', vnp_TmnCode: VNPAY_TMN, vnp_Amount: '5000000', vnp_CurrCode: 'VND', vnp_TxnRef: topup.providerRef });
      const { vnp_SecureHash, ...signed } = params;
      expect(vnpayQuery(signed, VNPAY_SECRET)).toBe(url.search.slice(1));
      expect(vnp_SecureHash).toMatch(/^[0-9a-f]{128}$/);
    });

    it('refuses a VNPAY top-up in another currency than VND', async () => {
      const refused = await startTopup('pay-vnpay-usd', { amount: '10.00', currency: 'USD', provider: 'vnpay' });
      expect(refused.status).toBe(400);
      expect(refused.body.error.code).toBe('UNKNOWN_CURRENCY');
    });

    it('confirms a signed IPN with 00 and credits once, even when 50 copies arrive at once; then answers 02', async () => {
      const topup = await newIntent('50000');
      const query = ipn(topup.providerRef, '50000');
      const answers = await Promise.all(Array.from({ length: STORM_SIZE }, () => sendIpn(query)));
      expect(answers.filter((a) => a.RspCode === '00')).toEqual([{ RspCode: '00', Message: 'Confirm Success' }]);
      expect(answers.filter((a) => a.RspCode === '02')).toHaveLength(STORM_SIZE - 1);
      expect(await balance(org)).toMatchObject({ total: '50000', currency: 'VND' });
      expect((await ledger(org)).filter((e) => e.type === 'topup')).toHaveLength(1);
      expect(await sendIpn(query)).toEqual({ RspCode: '02', Message: 'Order already confirmed' });
    });

    it('answers 97 to a bad signature, 01 to an unknown order, 04 to a wrong amount, and credits nothing', async () => {
      const topup = await newIntent('20000');
      expect(await sendIpn(ipn(topup.providerRef, '20000', {}, 'not-the-merchant-secret'))).toEqual({ RspCode: '97', Message: 'Invalid signature' });
      expect((await sendIpn(ipn(topup.providerRef, '20000').replace('vnp_Amount=2000000', 'vnp_Amount=9000000'))).RspCode).toBe('97');
      expect((await sendIpn(`vnp_TxnRef=${topup.providerRef}&vnp_ResponseCode=00`)).RspCode).toBe('97');
      expect(await sendIpn(ipn('0123456789abcdef0123456789abcdef', '20000'))).toEqual({ RspCode: '01', Message: 'Order not found' });
      expect(await sendIpn(ipn(topup.providerRef, '10000'))).toEqual({ RspCode: '04', Message: 'Invalid amount' });
      expect((await intentRow(topup.id)).status).toBe('pending');
      expect((await balance(org)).total).toBe('50000');
    });

    it('records a failed payment (response code 24, cancelled) as failed with 00, and a later IPN answers 02', async () => {
      const topup = await newIntent('30000');
      expect((await sendIpn(ipn(topup.providerRef, '30000', { vnp_ResponseCode: '24', vnp_TransactionStatus: '02' }))).RspCode).toBe('00');
      expect(await intentRow(topup.id)).toMatchObject({ status: 'failed', credited_at: null });
      expect((await sendIpn(ipn(topup.providerRef, '30000', { vnp_ResponseCode: '24', vnp_TransactionStatus: '02' }))).RspCode).toBe('02');
      expect((await balance(org)).total).toBe('50000');
    });
  });

  describe('PayPal', () => {
    const org = 'pay-paypal';

    function paypalWebhook(event: object, opts: { key?: string; webhookId?: string; time?: Date } = {}): { payload: string; headers: Record<string, string> } {
      const payload = JSON.stringify(event);
      const transmissionId = `tx-${Math.random().toString(36).slice(2)}`;
      const transmissionTime = (opts.time ?? new Date()).toISOString();
      const message = `${transmissionId}|${transmissionTime}|${opts.webhookId ?? PAYPAL_WEBHOOK_ID}|${crc32(Buffer.from(payload))}`;
      return {
        payload,
        headers: {
          'paypal-transmission-id': transmissionId,
          'paypal-transmission-time': transmissionTime,
          'paypal-transmission-sig': sign('sha256', Buffer.from(message), opts.key ?? paypalKey).toString('base64'),
          'paypal-cert-url': 'https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-test',
          'paypal-auth-algo': 'SHA256withRSA',
        },
      };
    }
    const completed = (orderId: string, topupId: string, value: string, currency = 'USD', captureId = `CAP${Math.random().toString(36).slice(2, 12).toUpperCase()}`) => ({
      id: `WH-${Math.random().toString(36).slice(2)}`,
      event_type: 'PAYMENT.CAPTURE.COMPLETED',
      resource: { id: captureId, status: 'COMPLETED', amount: { currency_code: currency, value }, custom_id: topupId, supplementary_data: { related_ids: { order_id: orderId } } },
    });

    async function newIntent(amount: string, who = org) {
      const started = await startTopup(who, { amount, currency: 'USD', provider: 'paypal' });
      expect(started.status).toBe(201);
      return started.body.topup;
    }

    it('refuses a PayPal top-up in VND (PayPal has no VND)', async () => {
      expect((await startTopup('pay-paypal-vnd', { amount: '50000', currency: 'VND', provider: 'paypal' })).status).toBe(400);
    });

    it('credits a signed PAYMENT.CAPTURE.COMPLETED once, even when 50 copies arrive at once', async () => {
      const topup = await newIntent('25.00');
      expect(topup.paypal.orderId).toMatch(/^[A-Z0-9]{17}$/);
      const hook = paypalWebhook(completed(topup.paypal.orderId, topup.id, '25.00'));
      const answers = await Promise.all(Array.from({ length: STORM_SIZE }, () => post('/webhooks/paypal', hook.payload, hook.headers)));
      expect(answers.every((a) => a.status === 200)).toBe(true);
      expect(answers.filter((a) => a.body.outcome === 'credited')).toHaveLength(1);
      expect(await balance(org)).toMatchObject({ total: '25.00', currency: 'USD' });
      expect((await ledger(org)).filter((e) => e.type === 'topup')).toHaveLength(1);
      expect((await post('/webhooks/paypal', hook.payload, hook.headers)).body.outcome).toBe('already_settled');
    });

    it('refuses with 400 a signature by another key, for another webhook id, over another body, or too old', async () => {
      const topup = await newIntent('3.00');
      const event = completed(topup.paypal.orderId, topup.id, '3.00');
      const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      for (const hook of [paypalWebhook(event, { key: otherKey }), paypalWebhook(event, { webhookId: 'WH-SOMEONE-ELSE' }), paypalWebhook(event, { time: new Date(Date.now() - 3600_000) })]) {
        expect(await post('/webhooks/paypal', hook.payload, hook.headers)).toEqual({ status: 400, body: { received: false, error: 'invalid signature' } });
      }
      const good = paypalWebhook(event);
      expect((await post('/webhooks/paypal', good.payload.replace('"3.00"', '"300.00"'), good.headers)).status).toBe(400);
      const { ['paypal-transmission-sig']: _dropped, ...unsigned } = good.headers;
      expect((await post('/webhooks/paypal', good.payload, unsigned)).status).toBe(400);
      expect((await intentRow(topup.id)).status).toBe('pending');
      expect((await balance(org)).total).toBe('25.00');
    });

    it('credits nothing for an unknown order, a wrong amount or a wrong currency', async () => {
      const topup = await newIntent('4.00');
      for (const [event, outcome] of [
        [completed('NOSUCHORDER000000', topup.id, '4.00'), 'unknown_topup'],
        [completed(topup.paypal.orderId, topup.id, '4.01'), 'amount_mismatch'],
        [completed(topup.paypal.orderId, topup.id, '4.00', 'JPY'), 'currency_mismatch'],
      ] as const) {
        const hook = paypalWebhook(event);
        expect(await post('/webhooks/paypal', hook.payload, hook.headers)).toEqual({ status: 200, body: { received: true, outcome } });
      }
      expect((await intentRow(topup.id)).status).toBe('pending');
      expect((await balance(org)).total).toBe('25.00');
    });

    it('marks a denied capture as failed and credits nothing', async () => {
      const topup = await newIntent('6.00');
      const denied = { id: 'WH-denied', event_type: 'PAYMENT.CAPTURE.DENIED', resource: { id: 'CAPDENIED', status: 'DECLINED', supplementary_data: { related_ids: { order_id: topup.paypal.orderId } } } };
      const hook = paypalWebhook(denied);
      expect((await post('/webhooks/paypal', hook.payload, hook.headers)).body.outcome).toBe('failed');
      expect(await intentRow(topup.id)).toMatchObject({ status: 'failed', credited_at: null });
      expect((await balance(org)).total).toBe('25.00');
    });

    it('takes back a refunded capture with a reversal entry, into debt if the credit was spent', async () => {
      const debtor = 'pay-paypal-debt';
      const topup = await newIntent('10.00', debtor);
      const ok = paypalWebhook(completed(topup.paypal.orderId, topup.id, '10.00', 'USD', 'CAPREFUND01'));
      expect((await post('/webhooks/paypal', ok.payload, ok.headers)).body.outcome).toBe('credited');
      await client.request(debtor, 'debit', { idempotencyKey: 'use-1', amount: '4', service: 'gpu-container', workspaceId: 'ws-1' });
      const refund = paypalWebhook({
        id: 'WH-refund',
        event_type: 'PAYMENT.CAPTURE.REFUNDED',
        resource: { id: 'REFUND01', status: 'COMPLETED', amount: { currency_code: 'USD', value: '10.00' }, links: [{ rel: 'up', href: 'https://api.paypal.com/v2/payments/captures/CAPREFUND01', method: 'GET' }] },
      });
      expect((await post('/webhooks/paypal', refund.payload, refund.headers)).body.outcome).toBe('reversed');
      expect((await post('/webhooks/paypal', refund.payload, refund.headers)).body.outcome).toBe('already_settled');
      const reversals = (await ledger(debtor)).filter((e) => e.type === 'reversal');
      expect(reversals).toHaveLength(1);
      expect(reversals[0]).toMatchObject({ amount: '-10', reference: `paypal:${topup.paypal.orderId}` });
      expect(await balance(debtor)).toMatchObject({ total: '-4.00' });
    });
  });
});
