import { execFileSync } from 'child_process';
import { createHmac, sign } from 'crypto';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import Stripe from 'stripe';
import { ledgerTotals, sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { startGateway, TestGateway } from './support/gateway';
import { eventually } from './support/lifecycle';

/**
 * Settlement by the set of facts (docs/payments.md, "Settlement"), against the real engine,
 * gateway, PostgreSQL and NATS: providers' events delivered late, out of order, many at once,
 * and the ledger ends holding what the provider keeps, each change once. Webhooks are signed
 * here as each provider signs them, with this test's own secrets.
 */
const STRIPE_SECRET = 'whsec_test_settlement_0123456789';
const VNPAY_SECRET = 'VNPAYSETTLEMENTSECRET0123456789';
const VNPAY_TMN = 'SETTLE01';
const PAYPAL_WEBHOOK_ID = 'WH-SETTLEMENT-TEST';
const STORM_SIZE = 50;

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function vnpayQuery(params: Record<string, string>, secret: string): string {
  const data = Object.keys(params)
    .sort()
    .map((k) => `${k}=${encodeURIComponent(params[k]).replace(/%20/g, '+')}`)
    .join('&');
  return `${data}&vnp_SecureHash=${createHmac('sha512', secret).update(Buffer.from(data, 'utf-8')).digest('hex')}`;
}

let sequence = 0;
const uniqueId = (prefix: string) => `${prefix}${Date.now().toString(36)}${(sequence++).toString(36)}`;
/** Provider times: seconds from now, so that an event's order at the provider is not its order of arrival. */
const nowSeconds = Math.floor(Date.now() / 1000);

describe('settlement: the ledger ends holding what the provider keeps, whatever the order of its events', () => {
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
      // the providers' API clients stay offline: only their webhooks are under test here
      PAYMENT_PROVIDERS: 'offline',
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

  async function startTopup(org: string, body: object): Promise<any> {
    const res = await fetch(`${gateway.url}/api/v1/topups`, { method: 'POST', headers: { authorization: `Bearer ${gateway.token(org)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    return ((await res.json()) as any).topup;
  }

  interface Hook {
    readonly route: string;
    readonly payload: string;
    readonly headers: Record<string, string>;
  }
  async function send(hook: Hook): Promise<{ status: number; body: any }> {
    const res = await fetch(`${gateway.url}${hook.route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...hook.headers }, body: hook.payload });
    return { status: res.status, body: await res.json() };
  }
  /** `n` copies at once; the outcomes counted. */
  async function storm(hook: Hook, n = STORM_SIZE): Promise<Record<string, number>> {
    const answers = await Promise.all(Array.from({ length: n }, () => send(hook)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const counts: Record<string, number> = {};
    for (const a of answers) counts[a.body.outcome] = (counts[a.body.outcome] ?? 0) + 1;
    return counts;
  }

  const balance = async (org: string) => (await client.request(org, 'balance')).balance;
  const ledger = async (org: string): Promise<any[]> => (await client.request(org, 'ledger', { cursor: 0, limit: 500 })).entries;
  const row = async (id: string) => (await sql('select status, credited_at, credit_error, ledger_changes_confirmed, jsonb_array_length(ledger_changes) as changes from topup_intents where id = $1', [id]))[0];
  const moves = async (org: string) => (await ledger(org)).map((e) => [e.type, e.amount, e.idempotencyKey]);
  async function expectConsistent(org: string) {
    const totals = await ledgerTotals(org);
    expect(totals.ledger).toBe(totals.grants);
    if (totals.wallet !== null) expect(totals.wallet).toBe(totals.ledger);
  }

  function stripe(type: string, object: object, created: number, id = uniqueId('evt_')): Hook {
    const payload = JSON.stringify({ id, object: 'event', type, created, data: { object } });
    return { route: '/webhooks/stripe', payload, headers: { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: STRIPE_SECRET }) } };
  }
  const succeeded = (topup: any, minor: number, created: number) =>
    stripe('payment_intent.succeeded', { id: topup.stripe.paymentIntentId, object: 'payment_intent', amount_received: minor, currency: 'usd', metadata: { topupId: topup.id }, latest_charge: `ch_${topup.id.slice(0, 8)}` }, created);
  const refunded = (topup: any, refundedMinor: number, created: number) =>
    stripe('charge.refunded', { id: `ch_${topup.id.slice(0, 8)}`, object: 'charge', payment_intent: topup.stripe.paymentIntentId, amount: 0, amount_refunded: refundedMinor, currency: 'usd', refunded: false }, created);
  const stripeDispute = (topup: any, type: string, status: string, minor: number, created: number) =>
    stripe(type, { id: `dp_${topup.id.slice(0, 8)}`, object: 'dispute', charge: `ch_${topup.id.slice(0, 8)}`, payment_intent: topup.stripe.paymentIntentId, amount: minor, currency: 'usd', status }, created);

  describe('Stripe', () => {
    it('changes nothing when the failure of an earlier attempt arrives after the success', async () => {
      const org = 'set-late-failure';
      const topup = await startTopup(org, { amount: '40.00', currency: 'USD', provider: 'stripe' });
      expect((await send(succeeded(topup, 4000, nowSeconds + 10))).body.outcome).toBe('credited');
      const declined = stripe('payment_intent.payment_failed', { id: topup.stripe.paymentIntentId, object: 'payment_intent', last_payment_error: { message: 'card declined' } }, nowSeconds + 5);
      expect(await storm(declined)).toEqual({ recorded: 1, already_settled: STORM_SIZE - 1 });
      expect((await row(topup.id)).status).toBe('succeeded');
      expect(await moves(org)).toEqual([['topup', '40', `topup:${topup.id}`]]);
      expect((await balance(org)).total).toBe('40.00');
    });

    it('never credits a payment refunded in full while its top-up was pending, when the success comes after', async () => {
      const org = 'set-refund-first';
      const topup = await startTopup(org, { amount: '25.00', currency: 'USD', provider: 'stripe' });
      expect(await storm(refunded(topup, 2500, nowSeconds + 20))).toEqual({ recorded: 1, already_settled: STORM_SIZE - 1 });
      expect((await row(topup.id)).status).toBe('pending');
      expect(await storm(succeeded(topup, 2500, nowSeconds + 10))).toEqual({ recorded: 1, already_settled: STORM_SIZE - 1 });
      expect(await row(topup.id)).toMatchObject({ status: 'refunded', changes: 0 });
      expect(await ledger(org)).toEqual([]);
    });

    it('credits only what is left of a payment refunded in part before its success arrived', async () => {
      const org = 'set-refund-part-first';
      const topup = await startTopup(org, { amount: '25.00', currency: 'USD', provider: 'stripe' });
      expect((await send(refunded(topup, 1000, nowSeconds + 20))).body.outcome).toBe('recorded');
      expect((await send(succeeded(topup, 2500, nowSeconds + 10))).body.outcome).toBe('credited');
      expect(await moves(org)).toEqual([['topup', '15', `topup:${topup.id}`]]);
      expect((await row(topup.id)).status).toBe('partially_refunded');
    });

    it('reverses a partial refund by that part and the next by its own, once each however many copies arrive; an older total changes nothing', async () => {
      const org = 'set-partial';
      const topup = await startTopup(org, { amount: '100.00', currency: 'USD', provider: 'stripe' });
      expect((await send(succeeded(topup, 10000, nowSeconds + 10))).body.outcome).toBe('credited');
      expect(await storm(refunded(topup, 3000, nowSeconds + 20))).toEqual({ reversed: 1, already_settled: STORM_SIZE - 1 });
      expect(await storm(refunded(topup, 5000, nowSeconds + 30))).toEqual({ reversed: 1, already_settled: STORM_SIZE - 1 });
      // the first refund's total again, under another event id, older than the last
      expect((await send(refunded(topup, 3000, nowSeconds + 20))).body.outcome).toBe('recorded');
      expect(await moves(org)).toEqual([
        ['topup', '100', `topup:${topup.id}`],
        ['reversal', '-30', `reverse:${topup.id}:2`],
        ['reversal', '-20', `reverse:${topup.id}:3`],
      ]);
      expect((await balance(org)).total).toBe('50.00');
      expect(await row(topup.id)).toMatchObject({ status: 'partially_refunded', ledger_changes_confirmed: 3, changes: 3 });
      await expectConsistent(org);
    });

    it('takes back an open dispute, and never takes a dispute whose win arrives before its creation', async () => {
      const org = 'set-dispute-order';
      const first = await startTopup(org, { amount: '20.00', currency: 'USD', provider: 'stripe' });
      expect((await send(succeeded(first, 2000, nowSeconds + 10))).body.outcome).toBe('credited');
      expect(await storm(stripeDispute(first, 'charge.dispute.funds_reinstated', 'won', 2000, nowSeconds + 40))).toEqual({ recorded: 1, already_settled: STORM_SIZE - 1 });
      expect(await storm(stripeDispute(first, 'charge.dispute.created', 'needs_response', 2000, nowSeconds + 20))).toEqual({ recorded: 1, already_settled: STORM_SIZE - 1 });
      expect((await send(stripeDispute(first, 'charge.dispute.funds_withdrawn', 'needs_response', 2000, nowSeconds + 21))).body.outcome).toBe('recorded');
      expect((await row(first.id)).status).toBe('dispute_won');
      expect(await moves(org)).toEqual([['topup', '20', `topup:${first.id}`]]);

      const second = await startTopup(org, { amount: '30.00', currency: 'USD', provider: 'stripe' });
      expect((await send(succeeded(second, 3000, nowSeconds + 10))).body.outcome).toBe('credited');
      expect((await send(stripeDispute(second, 'charge.dispute.created', 'needs_response', 3000, nowSeconds + 20))).body.outcome).toBe('reversed');
      expect((await send(stripeDispute(second, 'charge.dispute.closed', 'lost', 3000, nowSeconds + 50))).body.outcome).toBe('recorded');
      expect((await row(second.id)).status).toBe('dispute_lost');
      expect((await balance(org)).total).toBe('20.00');
      await expectConsistent(org);
    });

    it('sends through the sweep a reversal that a crash left stored but unsent', async () => {
      const org = 'set-sweep-reversal';
      const topup = await startTopup(org, { amount: '10.00', currency: 'USD', provider: 'stripe' });
      expect((await send(succeeded(topup, 1000, nowSeconds + 10))).body.outcome).toBe('credited');
      // what the gateway stored for a full refund before it stopped: the fact and its reversal, not yet sent
      const [stored] = await sql('select settlement_facts, ledger_changes from topup_intents where id = $1', [topup.id]);
      const facts = [...stored.settlement_facts, { key: 'stripe:evt_crash_refund', at: null, input: { kind: 'refund', refundId: null, amount: null, counts: true, total: '10' } }];
      const changes = [...stored.ledger_changes, { seq: 2, kind: 'reversal', amount: '10', idempotencyKey: `reverse:${topup.id}:2`, cause: 'stripe:evt_crash_refund', reason: 'reversal: refunded' }];
      await sql(`update topup_intents set status = 'refunded', settlement_facts = $2, ledger_changes = $3, version = version + 1, updated_at = now() - interval '5 seconds' where id = $1`, [topup.id, JSON.stringify(facts), JSON.stringify(changes)]);
      await eventually(() => row(topup.id), (r) => r.ledger_changes_confirmed === 2);
      expect(await moves(org)).toEqual([
        ['topup', '10', `topup:${topup.id}`],
        ['reversal', '-10', `reverse:${topup.id}:2`],
      ]);
    });

    it('answers bad input with a clear error or 200 and records nothing', async () => {
      const org = 'set-stripe-bad';
      const topup = await startTopup(org, { amount: '10.00', currency: 'USD', provider: 'stripe' });
      expect((await send(succeeded(topup, 1000, nowSeconds + 10))).body.outcome).toBe('credited');
      const signedJunk = (payload: string): Hook => ({ route: '/webhooks/stripe', payload, headers: { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: STRIPE_SECRET }) } });
      // refused by the JSON body reader before the route, or by the route: 400 either way, with the reason
      for (const junk of ['{"id":', 'null', '[]']) {
        const answer = await send(signedJunk(junk));
        expect(answer.status).toBe(400);
        expect(JSON.stringify(answer.body)).toMatch(/JSON/);
      }
      const cases: [Hook, string][] = [
        [refunded(topup, -100, nowSeconds + 20), 'amount_mismatch'],
        [refunded(topup, 1001, nowSeconds + 20), 'amount_mismatch'],
        [stripe('charge.refunded', { id: 'ch_x', payment_intent: topup.stripe.paymentIntentId, amount_refunded: 100, currency: 'jpy' }, nowSeconds + 20), 'currency_mismatch'],
        [stripe('charge.refunded', { id: 'ch_nobody', payment_intent: 'pi_nobody', amount_refunded: 100, currency: 'usd' }, nowSeconds + 20), 'unknown_topup'],
        [stripeDispute(topup, 'charge.dispute.updated', 'reopened_somehow', 1000, nowSeconds + 20), 'invalid_event'],
        [stripe('charge.dispute.created', { id: 'dp_x', amount: 1000, currency: 'usd' }, nowSeconds + 20), 'invalid_event'],
        [stripe('payment_intent.succeeded', { id: topup.stripe.paymentIntentId, amount_received: '10.00', currency: 'usd', metadata: { topupId: topup.id } }, nowSeconds + 20), 'amount_mismatch'],
        [stripe('payment_intent.succeeded', { id: ['pi'], amount_received: 1000, currency: 'usd' }, nowSeconds + 20), 'invalid_event'],
      ];
      for (const [hook, outcome] of cases) expect(await send(hook)).toEqual({ status: 200, body: { received: true, outcome } });
      expect(await moves(org)).toEqual([['topup', '10', `topup:${topup.id}`]]);
      expect(await row(topup.id)).toMatchObject({ status: 'succeeded', changes: 1 });
    });
  });

  describe('PayPal', () => {
    function paypal(event: object): Hook {
      const payload = JSON.stringify(event);
      const transmissionId = uniqueId('tx-');
      const transmissionTime = new Date().toISOString();
      const message = `${transmissionId}|${transmissionTime}|${PAYPAL_WEBHOOK_ID}|${crc32(Buffer.from(payload))}`;
      return {
        route: '/webhooks/paypal',
        payload,
        headers: {
          'paypal-transmission-id': transmissionId,
          'paypal-transmission-time': transmissionTime,
          'paypal-transmission-sig': sign('sha256', Buffer.from(message), paypalKey).toString('base64'),
          'paypal-cert-url': 'https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-test',
          'paypal-auth-algo': 'SHA256withRSA',
        },
      };
    }
    const completed = (topup: any, captureId: string, value: string) =>
      paypal({ id: uniqueId('WH-'), event_type: 'PAYMENT.CAPTURE.COMPLETED', resource: { id: captureId, status: 'COMPLETED', amount: { currency_code: 'USD', value }, custom_id: topup.id, supplementary_data: { related_ids: { order_id: topup.paypal.orderId } } } });
    const disputeEvent = (type: string, captureId: string, value: string, at: Date, status: string, outcome?: string) =>
      paypal({
        id: uniqueId('WH-'),
        event_type: type,
        resource: { dispute_id: `PP-D-${captureId}`, status, dispute_amount: { currency_code: 'USD', value }, disputed_transactions: [{ seller_transaction_id: captureId }], dispute_outcome: outcome ? { outcome_code: outcome } : undefined, update_time: at.toISOString() },
      });

    it('takes a dispute back while open, keeps it when lost, and credits it back when won on appeal, once each', async () => {
      const org = 'set-appeal';
      const topup = await startTopup(org, { amount: '60.00', currency: 'USD', provider: 'paypal' });
      const capture = uniqueId('CAPAPPEAL').toUpperCase().replace(/[^A-Z0-9]/g, '');
      expect((await send(completed(topup, capture, '60.00'))).body.outcome).toBe('credited');
      const t = Date.now();
      expect(await storm(disputeEvent('CUSTOMER.DISPUTE.CREATED', capture, '60.00', new Date(t + 1000), 'WAITING_FOR_SELLER_RESPONSE'))).toEqual({ reversed: 1, already_settled: STORM_SIZE - 1 });
      const lost = disputeEvent('CUSTOMER.DISPUTE.RESOLVED', capture, '60.00', new Date(t + 2000), 'RESOLVED', 'RESOLVED_BUYER_FAVOUR');
      expect((await send(lost)).body.outcome).toBe('recorded');
      expect((await row(topup.id)).status).toBe('dispute_lost');
      expect((await balance(org)).total).toBe('0.00');
      const won = disputeEvent('CUSTOMER.DISPUTE.RESOLVED', capture, '60.00', new Date(t + 3000), 'RESOLVED', 'RESOLVED_SELLER_FAVOUR');
      expect(await storm(won)).toEqual({ credited: 1, already_settled: STORM_SIZE - 1 });
      // the loss reported again afterwards, under another event id: older than the win, it changes nothing
      expect((await send(disputeEvent('CUSTOMER.DISPUTE.RESOLVED', capture, '60.00', new Date(t + 2000), 'RESOLVED', 'RESOLVED_BUYER_FAVOUR'))).body.outcome).toBe('recorded');
      expect(await moves(org)).toEqual([
        ['topup', '60', `topup:${topup.id}`],
        ['reversal', '-60', `reverse:${topup.id}:2`],
        ['topup', '60', `topup:${topup.id}:3`],
      ]);
      expect((await balance(org)).total).toBe('60.00');
      expect((await row(topup.id)).status).toBe('dispute_won');
      await expectConsistent(org);
    });

    it('reverses a partial refund by its amount, once however many copies arrive', async () => {
      const org = 'set-paypal-partial';
      const topup = await startTopup(org, { amount: '10.00', currency: 'USD', provider: 'paypal' });
      const capture = uniqueId('CAPPART').toUpperCase().replace(/[^A-Z0-9]/g, '');
      expect((await send(completed(topup, capture, '10.00'))).body.outcome).toBe('credited');
      const refund = (refundId: string, value: string, total: string) =>
        paypal({
          id: uniqueId('WH-'),
          event_type: 'PAYMENT.CAPTURE.REFUNDED',
          resource: { id: refundId, status: 'COMPLETED', amount: { currency_code: 'USD', value }, seller_payable_breakdown: { total_refunded_amount: { currency_code: 'USD', value: total } }, links: [{ rel: 'up', href: `https://api.paypal.com/v2/payments/captures/${capture}` }] },
        });
      expect(await storm(refund('REF1', '4.00', '4.00'))).toEqual({ reversed: 1, already_settled: STORM_SIZE - 1 });
      expect((await send(refund('REF2', '1.50', '5.50'))).body.outcome).toBe('reversed');
      expect(await moves(org)).toEqual([
        ['topup', '10', `topup:${topup.id}`],
        ['reversal', '-4', `reverse:${topup.id}:2`],
        ['reversal', '-1.5', `reverse:${topup.id}:3`],
      ]);
      expect((await row(topup.id)).status).toBe('partially_refunded');
    });

    it('answers bad input with a clear error or 200 and records nothing', async () => {
      const org = 'set-paypal-bad';
      const topup = await startTopup(org, { amount: '5.00', currency: 'USD', provider: 'paypal' });
      const capture = uniqueId('CAPBAD').toUpperCase().replace(/[^A-Z0-9]/g, '');
      expect((await send(completed(topup, capture, '5.00'))).body.outcome).toBe('credited');
      expect(await send(paypal([1, 2] as unknown as object))).toEqual({ status: 400, body: { received: false, error: 'the body is not a JSON object' } });
      const cases: [Hook, string][] = [
        [paypal({ event_type: 'PAYMENT.CAPTURE.COMPLETED', resource: {} }), 'invalid_event'],
        [disputeEvent('CUSTOMER.DISPUTE.RESOLVED', capture, '5.00', new Date(), 'RESOLVED'), 'invalid_event'],
        [disputeEvent('CUSTOMER.DISPUTE.CREATED', capture, '5.001', new Date(), 'OPEN'), 'amount_mismatch'],
        [disputeEvent('CUSTOMER.DISPUTE.CREATED', capture, '500.00', new Date(), 'OPEN'), 'amount_mismatch'],
        [disputeEvent('CUSTOMER.DISPUTE.CREATED', 'NOSUCHCAPTURE', '5.00', new Date(), 'OPEN'), 'unknown_topup'],
        [paypal({ id: uniqueId('WH-'), event_type: 'PAYMENT.CAPTURE.REFUNDED', resource: { id: 'R', amount: { currency_code: 'USD', value: '-1' }, links: [{ rel: 'up', href: `https://api.paypal.com/v2/payments/captures/${capture}` }] } }), 'amount_mismatch'],
      ];
      for (const [hook, outcome] of cases) expect(await send(hook)).toEqual({ status: 200, body: { received: true, outcome } });
      expect(await moves(org)).toEqual([['topup', '5', `topup:${topup.id}`]]);
    });
  });

  describe('VNPAY', () => {
    const ipn = (txnRef: string, amountVnd: string, responseCode: string, transactionStatus: string, transactionNo: string) =>
      vnpayQuery(
        { vnp_Amount: (BigInt(amountVnd) * 100n).toString(), vnp_BankCode: 'NCB', vnp_OrderInfo: `Nap tien vi ${txnRef}`, vnp_PayDate: '20261201103000', vnp_ResponseCode: responseCode, vnp_TmnCode: VNPAY_TMN, vnp_TransactionNo: transactionNo, vnp_TransactionStatus: transactionStatus, vnp_TxnRef: txnRef },
        VNPAY_SECRET,
      );
    const sendIpn = async (query: string): Promise<any> => (await fetch(`${gateway.url}/webhooks/vnpay/ipn?${query}`)).json();

    it('changes nothing when a failed attempt is reported after the success, and credits a success reported after a failure', async () => {
      const org = 'set-vnpay';
      const topup = await startTopup(org, { amount: '50000', currency: 'VND', provider: 'vnpay' });
      expect((await sendIpn(ipn(topup.providerRef, '50000', '00', '00', '111'))).RspCode).toBe('00');
      expect((await sendIpn(ipn(topup.providerRef, '50000', '51', '02', '110'))).RspCode).toBe('00');
      expect((await row(topup.id)).status).toBe('succeeded');
      const later = await startTopup(org, { amount: '20000', currency: 'VND', provider: 'vnpay' });
      expect((await sendIpn(ipn(later.providerRef, '20000', '51', '02', '120'))).RspCode).toBe('00');
      expect((await row(later.id)).status).toBe('failed');
      const answers = await Promise.all(Array.from({ length: STORM_SIZE }, () => sendIpn(ipn(later.providerRef, '20000', '00', '00', '121'))));
      expect(answers.filter((a) => a.RspCode === '00')).toHaveLength(1);
      expect(answers.filter((a) => a.RspCode === '02')).toHaveLength(STORM_SIZE - 1);
      expect(await moves(org)).toEqual([
        ['topup', '50000', `topup:${topup.id}`],
        ['topup', '20000', `topup:${later.id}`],
      ]);
    });
  });
});
