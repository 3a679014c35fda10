import { randomUUID } from 'crypto';
import { ownDatabase, sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { FakeProviders } from './support/fake-providers';
import { startGateway, TestGateway } from './support/gateway';
import { eventually } from './support/lifecycle';
import { freePort } from './support/servers';

/**
 * Reconciliation, expiry and the mismatch report, with the real gateway (two processes, both
 * running the job), engine, PostgreSQL and NATS, and the real provider clients against the local
 * fakes. A lost webhook is a delivery that fails: the fake's webhook URL points at a closed port
 * while the payer pays. The run's database is shared by every test file, so this one has its own:
 * the job asks about every pending top-up it finds.
 */
describe('reconciliation: lost webhooks, expiry, mismatches', () => {
  let db: { url: string; drop: () => Promise<void> };
  let engine: TestEngine;
  let gateway: TestGateway;
  let second: TestGateway;
  let client: WalletClient;
  let deadUrl: string;
  const providers = new FakeProviders('reconcile');
  const { stripe, paypal, vnpay } = providers;
  const q = (text: string, params: unknown[] = []) => sql(text, params, db.url);

  const gatewayEnv = () => providers.gatewayEnv({
    DATABASE_URL: db.url,
    PAYMENT_PROVIDER_MAX_RETRIES: '1',
    // The job, fast: every 200 ms, about top-ups pending for 500 ms, asked again every second at most.
    PAYMENT_RECONCILE_INTERVAL_MS: '200',
    PAYMENT_RECONCILE_AFTER_MS: '500',
    PAYMENT_RECONCILE_MAX_BACKOFF_MS: '1000',
    PAYMENT_EXPIRY_GRACE_MS: '0',
    // Windows no test waits for: expiry is planted by moving `expires_at` into the past.
    STRIPE_PAYMENT_WINDOW_MS: '3600000',
    PAYPAL_ORDER_WINDOW_MS: '3600000',
    PAYMENTS_SWEEP_INTERVAL_MS: '200',
    PAYMENTS_SWEEP_MIN_AGE_MS: '500',
  });

  beforeAll(async () => {
    db = await ownDatabase('reconcile');
    await providers.start();
    deadUrl = `http://127.0.0.1:${await freePort()}/lost`;
    engine = await startEngine({ DATABASE_URL: db.url });
    gateway = await startGateway(engine.config.subjectPrefix, gatewayEnv());
    second = await startGateway(engine.config.subjectPrefix, gatewayEnv());
    providers.deliverTo(gateway.url);
    client = await WalletClient.connect(engine.config.subjectPrefix);
  }, 120_000);

  afterAll(async () => {
    await second?.stop();
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    await providers.stop();
    await db?.drop();
  });

  afterEach(() => {
    providers.clearFaults();
    paypal.autoWebhooks = true;
    providers.deliverTo(gateway.url);
  });

  async function startTopup(org: string, body: object): Promise<any> {
    const res = await fetch(`${gateway.url}/api/v1/topups`, { method: 'POST', headers: { authorization: `Bearer ${gateway.token(org)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    return ((await res.json()) as any).topup;
  }
  const row = async (id: string) => (await q('select status, capture_ref, reconcile_outcome, reconcile_attempts, failure_reason, expires_at from topup_intents where id = $1', [id]))[0];
  const settledAs = (id: string, status: string) => eventually(() => row(id), (r) => r.status === status, 20_000);
  const entries = async (org: string): Promise<any[]> => (await client.request(org, 'ledger', { cursor: 0, limit: 500 })).entries;
  const balance = async (org: string) => (await client.request(org, 'balance')).balance;
  /** The window closed a second ago: the next question about it is the final check. */
  const closeWindow = (id: string) => q(`update topup_intents set expires_at = now() - interval '1 second', reconcile_at = null where id = $1`, [id]);
  /** A counter of both gateways (either may be the one whose job got to a top-up), or a gauge of the first. */
  const metric = async (name: string, labels: string, of: TestGateway[] = [gateway, second]): Promise<number> => {
    let total = 0;
    for (const g of of) {
      const text = await (await fetch(`${g.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
      total += line ? Number(line.split(' ').at(-1)) : 0;
    }
    return total;
  };

  describe('a lost webhook is settled by asking the provider', () => {
    it('Stripe: the PaymentIntent succeeded, its webhook never came: retrieved, credited once; the late webhook changes nothing', async () => {
      const org = 'rec-stripe-lost';
      const topup = await startTopup(org, { amount: '42.00', currency: 'USD', provider: 'stripe' });
      stripe.webhookUrl = deadUrl;
      await expect(stripe.pay(topup.stripe.paymentIntentId)).rejects.toThrow();
      expect((await row(topup.id)).status).toBe('pending');
      await settledAs(topup.id, 'succeeded');
      expect(await eventually(() => balance(org), (b) => b.total === '42.00')).toMatchObject({ currency: 'USD' });
      // The reconciler records its run once the settlement it led to is done: a moment after the credit.
      await eventually(() => row(topup.id), (r) => r.reconcile_outcome === 'captured', 15_000);
      expect(stripe.requestsTo(new RegExp(`^GET /v1/payment_intents/${topup.stripe.paymentIntentId}\\?`)).length).toBeGreaterThan(0);
      await eventually(() => metric('gateway_payment_reconciliations_total', 'provider="stripe",outcome="captured"'), (n) => n >= 1, 15_000);
      await eventually(() => metric('gateway_payment_mismatches_total', 'kind="provider_captured_not_credited"'), (n) => n >= 1, 15_000);
      // Stripe retries the webhook later: it is a fact the settlement already holds.
      stripe.webhookUrl = `${gateway.url}/webhooks/stripe`;
      const late = await stripe.sendEvent('payment_intent.succeeded', stripe.paymentIntents.get(topup.stripe.paymentIntentId));
      expect(late).toMatchObject({ status: 200, body: { outcome: 'recorded' } });
      expect((await entries(org)).filter((e) => e.type === 'topup').map((e) => e.idempotencyKey)).toEqual([`topup:${topup.id}`]);
    });

    it('PayPal: the buyer approved, neither the return nor the approval webhook came: the order is captured, and the capture credits', async () => {
      const org = 'rec-paypal-lost';
      paypal.autoWebhooks = false;
      const topup = await startTopup(org, { amount: '19.99', currency: 'USD', provider: 'paypal' });
      await paypal.approve(topup.paypal.orderId, { webhook: false });
      await settledAs(topup.id, 'succeeded');
      expect(await eventually(() => balance(org), (b) => b.total === '19.99')).toBeTruthy();
      const capture = [...paypal.captures.values()].filter((c) => c.orderId === topup.paypal.orderId);
      expect(capture).toHaveLength(1);
      expect((await row(topup.id)).capture_ref).toBe(capture[0].id);
      expect(paypal.requestsTo(new RegExp(`/v2/checkout/orders/${topup.paypal.orderId}/capture$`)).map((r) => r.headers['paypal-request-id'])).toEqual([`capture:${topup.id}`]);
      expect((await entries(org)).filter((e) => e.type === 'topup')).toHaveLength(1);
    });

    it('VNPAY: paid on VNPAY\'s page, the IPN never came: querydr says paid, credited once', async () => {
      const org = 'rec-vnpay-lost';
      const topup = await startTopup(org, { amount: '250000', currency: 'VND', provider: 'vnpay' });
      expect((await fetch(topup.vnpay.paymentUrl)).status).toBe(200);
      vnpay.ipnUrl = deadUrl;
      await expect(vnpay.pay(topup.providerRef)).rejects.toThrow();
      await settledAs(topup.id, 'succeeded');
      expect(await eventually(() => balance(org), (b) => b.total === '250000')).toMatchObject({ currency: 'VND' });
      const queries = vnpay.requestsTo(/^POST \/merchant_webapi\/api\/transaction$/).map((r) => JSON.parse(r.body)).filter((b) => b.vnp_TxnRef === topup.providerRef);
      expect(queries.length).toBeGreaterThan(0);
      // Asked with the payment's own vnp_CreateDate, as VNPAY requires.
      expect(queries[0].vnp_TransactionDate).toBe(new URL(topup.vnpay.paymentUrl).searchParams.get('vnp_CreateDate'));
      expect((await entries(org)).filter((e) => e.type === 'topup')).toHaveLength(1);
    });

    it('asks each pending top-up once per round, however many gateways run the job', async () => {
      const org = 'rec-two-gateways';
      const topups = [];
      stripe.webhookUrl = deadUrl;
      for (let i = 0; i < 6; i++) {
        const topup = await startTopup(org, { amount: '10.00', currency: 'USD', provider: 'stripe' });
        await expect(stripe.pay(topup.stripe.paymentIntentId)).rejects.toThrow();
        topups.push(topup);
      }
      for (const topup of topups) await settledAs(topup.id, 'succeeded');
      expect(await eventually(() => balance(org), (b) => b.total === '60.00')).toBeTruthy();
      for (const topup of topups) {
        // Paid before it was due: the first question found it paid, and no second was asked.
        expect(stripe.requestsTo(new RegExp(`^GET /v1/payment_intents/${topup.stripe.paymentIntentId}\\?`))).toHaveLength(1);
        expect((await row(topup.id)).reconcile_attempts).toBe(1);
      }
      expect((await entries(org)).filter((e) => e.type === 'topup')).toHaveLength(6);
    });
  });

  describe('a pending top-up expires when its payment window closes, after a final check', () => {
    it('Stripe: the PaymentIntent still open is cancelled at Stripe, and the top-up expires; nothing is credited', async () => {
      const org = 'rec-stripe-expired';
      const topup = await startTopup(org, { amount: '15.00', currency: 'USD', provider: 'stripe' });
      await closeWindow(topup.id);
      await settledAs(topup.id, 'expired');
      expect(stripe.paymentIntents.get(topup.stripe.paymentIntentId)!.status).toBe('canceled');
      expect(stripe.requestsTo(new RegExp(`^POST /v1/payment_intents/${topup.stripe.paymentIntentId}/cancel$`)).at(-1)!.headers['idempotency-key']).toBe(`expire:${topup.id}`);
      expect((await row(topup.id)).failure_reason).toMatch(/the payment window closed at .* unpaid \(stripe PaymentIntent canceled\)/);
      expect(await entries(org)).toEqual([]);
    });

    it('PayPal: an order never approved expires; VNPAY: a payment never made (or never even opened) expires', async () => {
      const org = 'rec-expired';
      const order = await startTopup(org, { amount: '2000', currency: 'JPY', provider: 'paypal' });
      const opened = await startTopup('rec-expired-vnd', { amount: '150000', currency: 'VND', provider: 'vnpay' });
      expect((await fetch(opened.vnpay.paymentUrl)).status).toBe(200);
      const never = await startTopup('rec-expired-vnd', { amount: '160000', currency: 'VND', provider: 'vnpay' });
      for (const t of [order, opened, never]) await closeWindow(t.id);
      for (const t of [order, opened, never]) await settledAs(t.id, 'expired');
      expect((await row(order.id)).failure_reason).toMatch(/paypal order PAYER_ACTION_REQUIRED/);
      expect((await row(opened.id)).failure_reason).toMatch(/vnpay status 01/);
      expect((await row(never.id)).failure_reason).toMatch(/vnpay: no such transaction/);
      expect(await metric('gateway_payment_reconciliations_total', 'provider="vnpay",outcome="expired"')).toBeGreaterThanOrEqual(2);
      expect(await entries(org)).toEqual([]);
    });

    it('credits a payment made at the last second instead of expiring it (Stripe and VNPAY, their webhooks lost)', async () => {
      const org = 'rec-last-second';
      const topup = await startTopup(org, { amount: '30.00', currency: 'USD', provider: 'stripe' });
      stripe.webhookUrl = deadUrl;
      await expect(stripe.pay(topup.stripe.paymentIntentId)).rejects.toThrow();
      await closeWindow(topup.id);
      await settledAs(topup.id, 'succeeded');
      expect(stripe.requestsTo(/\/cancel$/).filter((r) => r.url.includes(topup.stripe.paymentIntentId))).toEqual([]);
      const vnd = await startTopup('rec-last-second-vnd', { amount: '300000', currency: 'VND', provider: 'vnpay' });
      expect((await fetch(vnd.vnpay.paymentUrl)).status).toBe(200);
      vnpay.ipnUrl = deadUrl;
      await expect(vnpay.pay(vnd.providerRef)).rejects.toThrow();
      await closeWindow(vnd.id);
      await settledAs(vnd.id, 'succeeded');
      expect(await eventually(() => balance('rec-last-second-vnd'), (b) => b.total === '300000')).toBeTruthy();
      expect(await eventually(() => balance(org), (b) => b.total === '30.00')).toBeTruthy();
    });

    it('leaves a top-up pending while its provider cannot be asked, and expires it once it can', async () => {
      const org = 'rec-provider-down';
      const topup = await startTopup(org, { amount: '12.00', currency: 'USD', provider: 'stripe' });
      stripe.failNext(1000, 503, { match: new RegExp(topup.stripe.paymentIntentId) });
      await closeWindow(topup.id);
      await eventually(() => row(topup.id), (r) => r.reconcile_outcome === 'unreachable', 20_000);
      expect((await row(topup.id)).status).toBe('pending');
      stripe.clearFaults();
      await settledAs(topup.id, 'expired');
    });
  });

  describe('the mismatch report', () => {
    const get = async (query: string, token = gateway.operatorToken('auditor')): Promise<{ status: number; body: any }> => {
      const res = await fetch(`${gateway.url}/api/v1/operator/payments/mismatches?${query}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: await res.json() };
    };
    const kindsFor = (body: any, topupId: string) => body.mismatches.filter((m: any) => m.topupId === topupId).map((m: any) => m.kind);

    it('finds each planted mismatch between the providers, topup_intents and the ledger', async () => {
      const org = 'rec-mismatch';
      // 1. Credited, but Stripe never took the money: a signed webhook the fake's PaymentIntent does not back.
      const phantom = await startTopup(org, { amount: '10.00', currency: 'USD', provider: 'stripe' });
      const pi = stripe.paymentIntents.get(phantom.stripe.paymentIntentId)!;
      expect((await stripe.sendEvent('payment_intent.succeeded', { ...pi, status: 'succeeded', amount_received: pi.amount, latest_charge: 'ch_phantom' })).body.outcome).toBe('credited');
      // 2. Refunded at Stripe (its dashboard, say) and the refund's webhook lost.
      const refundedThere = await startTopup(org, { amount: '20.00', currency: 'USD', provider: 'stripe' });
      await stripe.pay(refundedThere.stripe.paymentIntentId);
      await settledAs(refundedThere.id, 'succeeded');
      stripe.charges.get(stripe.paymentIntents.get(refundedThere.stripe.paymentIntentId)!.latest_charge!)!.amount_refunded = 500;
      // 3. Paid at Stripe, its webhook lost, and reconciliation not at it yet.
      const unseen = await startTopup(org, { amount: '30.00', currency: 'USD', provider: 'stripe' });
      await q(`update topup_intents set reconcile_at = now() + interval '1 day' where id = $1`, [unseen.id]);
      stripe.webhookUrl = deadUrl;
      await expect(stripe.pay(unseen.stripe.paymentIntentId)).rejects.toThrow();
      stripe.webhookUrl = `${gateway.url}/webhooks/stripe`;
      // 4. The settlement says one thing, the ledger another (a row edited by hand).
      const edited = await startTopup(org, { amount: '40.00', currency: 'USD', provider: 'stripe' });
      await stripe.pay(edited.stripe.paymentIntentId);
      await settledAs(edited.id, 'succeeded');
      await q(`update topup_intents set ledger_changes = jsonb_set(ledger_changes, '{0,amount}', '"45"') where id = $1`, [edited.id]);
      // 5. A credit under a payment's key whose top-up does not exist.
      const gatewayBus = await WalletClient.connect(engine.config.subjectPrefix, 'gateway');
      const orphanKey = `topup:${randomUUID()}`;
      expect((await gatewayBus.request(org, 'payment.topup', { idempotencyKey: orphanKey, amount: '5.00', currency: 'USD', provider: 'stripe', reference: 'pi_orphan' })).ok).toBe(true);
      await gatewayBus.close();
      // A top-up in order, to show it is not listed.
      const fine = await startTopup(org, { amount: '50.00', currency: 'USD', provider: 'stripe' });
      await stripe.pay(fine.stripe.paymentIntentId);
      await settledAs(fine.id, 'succeeded');

      const before = await metric('gateway_payment_mismatches_total', 'kind="ledger_differs"');
      const report = await get(`orgId=${org}`);
      expect(report.status).toBe(200);
      expect(report.body).toMatchObject({ ok: true, check: 'provider', scanned: 5, unchecked: [], nextCursor: null });
      expect(kindsFor(report.body, phantom.id)).toEqual(['credited_without_capture']);
      expect(kindsFor(report.body, refundedThere.id)).toEqual(['refunded_differs']);
      expect(kindsFor(report.body, unseen.id)).toEqual(['provider_captured_not_credited']);
      expect(kindsFor(report.body, edited.id)).toEqual(['ledger_differs']);
      expect(kindsFor(report.body, fine.id)).toEqual([]);
      expect(report.body.mismatches.filter((m: any) => m.kind === 'ledger_without_topup')).toEqual([expect.objectContaining({ orgId: org, idempotencyKey: orphanKey, amount: '5' })]);
      expect(report.body.mismatches.find((m: any) => m.topupId === edited.id)).toMatchObject({ ledger: { net: '40' }, detail: "the ledger holds 40 under the top-up's keys; the settlement sent 45 (owed 40)" });
      expect(await metric('gateway_payment_mismatches_total', 'kind="ledger_differs"')).toBe(before + 1);

      // Without the providers: only what topup_intents and the ledger disagree on.
      const local = await get(`orgId=${org}&check=local`);
      expect(local.body.mismatches.map((m: any) => m.kind).sort()).toEqual(['ledger_differs', 'ledger_without_topup']);
      // Pages: two at a time, newest first, the cursor taking up where the last one ended.
      const first = await get(`orgId=${org}&limit=2&check=local`);
      const next = await get(`orgId=${org}&limit=2&check=local&cursor=${encodeURIComponent(first.body.nextCursor)}`);
      expect(first.body.scanned + next.body.scanned).toBe(4);
      expect(next.body.nextCursor).not.toBeNull();
      expect(next.body.mismatches.filter((m: any) => m.kind === 'ledger_without_topup')).toEqual([]);
      // A provider that cannot be asked leaves its top-ups unchecked, not mismatched.
      stripe.failNext(1000, 503);
      const down = await get(`orgId=${org}`);
      expect(down.body.unchecked).toHaveLength(5);
      expect(down.body.mismatches.map((m: any) => m.kind).sort()).toEqual(['ledger_differs', 'ledger_without_topup']);
      stripe.clearFaults();
      // The report changed nothing.
      expect((await row(unseen.id)).status).toBe('pending');
    });

    it('answers bad queries with 400, organization tokens with 403, and no token with 401', async () => {
      for (const query of ['limit=0', 'limit=101', 'limit=abc', 'check=all', 'since=yesterday', 'since=2000-01-01T00:00:00Z', 'orgId=a%20b', 'provider=bank', 'cursor=xyz', 'limit=1&limit=2']) {
        const res = await get(query);
        expect([query, res.status, res.body.ok]).toEqual([query, 400, false]);
      }
      expect((await get('check=local&limit=500')).status).toBe(200);
      expect((await get('', gateway.token('rec-mismatch'))).status).toBe(403);
      expect((await fetch(`${gateway.url}/api/v1/operator/payments/mismatches`)).status).toBe(401);
    });
  });

  it('reports pending top-ups and the age of the oldest on /metrics', async () => {
    await startTopup('rec-metrics', { amount: '5.00', currency: 'USD', provider: 'stripe' }).then((t) => q(`update topup_intents set reconcile_at = now() + interval '1 day', created_at = now() - interval '2 hours' where id = $1`, [t.id]));
    expect(await metric('gateway_topups_pending', 'provider="stripe"', [gateway])).toBeGreaterThanOrEqual(1);
    expect(await metric('gateway_topups_pending_oldest_seconds', 'provider="stripe"', [gateway])).toBeGreaterThanOrEqual(7200);
    expect(await metric('gateway_topups_pending_overdue', 'provider="stripe"', [gateway])).toBeGreaterThanOrEqual(1);
    // Every gateway reads the same table: the second reports the same.
    expect(await metric('gateway_topups_pending_oldest_seconds', 'provider="stripe"', [second])).toBeGreaterThanOrEqual(7200);
  });
});
