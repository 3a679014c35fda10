import { LEDGER_SCALE } from '@billing/domain';
import { BillingClient } from '../apps/gateway/src/wallet/billing.client';
import { startEngine, TestEngine, WalletClient } from './support/engine';
import { startGateway, TestGateway } from './support/gateway';
import { ControlPlane, eventually } from './support/lifecycle';

/**
 * One error shape on the gateway's HTTP API, whatever refuses the request (body-parser, Nest's
 * router, a guard, the engine, a bug), and every amount in its replies at the ledger's scale. A
 * real engine and gateway on NATS and PostgreSQL.
 */
describe('HTTP errors and amounts', () => {
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;
  let plane: ControlPlane;
  const org = 'he-usd';

  beforeAll(async () => {
    // MIN_RUNWAY_MINUTES 10: authorize asks for 10 minutes of the hourly rate, a sixth of it.
    engine = await startEngine({ MIN_RUNWAY_MINUTES: '10', TICK_INTERVAL_MS: '200' });
    gateway = await startGateway(engine.config.subjectPrefix);
    client = await WalletClient.connect(engine.config.subjectPrefix);
    plane = await ControlPlane.connect(engine.config.lifecycleSubjectPrefix);
    await client.request(org, 'topup', { idempotencyKey: 't', amount: '100.00', currency: 'USD', provider: 'stripe', reference: 'pi_he' });
  });

  afterAll(async () => {
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    await plane?.close();
  });

  type Answer = { status: number; headers: Headers; text: string; json: any };
  async function send(path: string, init: { method?: string; token?: string | null; body?: string; contentType?: string; as?: string } = {}): Promise<Answer> {
    const token = init.token === undefined ? gateway.token(init.as ?? org) : init.token;
    const res = await fetch(`${gateway.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body !== undefined ? { 'content-type': init.contentType ?? 'application/json' } : {}) },
      body: init.body,
    });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: the assertions say so
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  /** The API's error: exactly `{ok: false, error: {code, message}}`, nothing else, as JSON. */
  function expectError(answer: Answer, status: number, code: string, message: RegExp = /./): void {
    expect({ status: answer.status, type: answer.headers.get('content-type'), body: answer.json }).toEqual({
      status,
      type: expect.stringMatching(/^application\/json/),
      body: { ok: false, error: { code, message: expect.stringMatching(message) } },
    });
  }

  describe('one error shape', () => {
    it('answers malformed JSON 400 MALFORMED_JSON, before any token is looked at', async () => {
      for (const body of ['{', '{"code": }', '{"idempotencyKey": "x", "code": "A",}', "{'code': 'A'}"]) {
        expectError(await send('/api/v1/wallet/redeem', { method: 'POST', body }), 400, 'MALFORMED_JSON', /^the body is not valid JSON/);
      }
      expectError(await send('/api/v1/wallet/alerts', { method: 'PUT', body: '[1,' }), 400, 'MALFORMED_JSON');
      expectError(await send('/api/v1/topups', { method: 'POST', body: '{"amount":', token: null }), 400, 'MALFORMED_JSON');
    });

    it('answers an unknown route 404 NOT_FOUND, without echoing the query', async () => {
      const nope = await send('/api/v1/nope?token=secret-in-the-query');
      expectError(nope, 404, 'NOT_FOUND', /^no route for GET \/api\/v1\/nope$/);
      expect(nope.text).not.toContain('secret-in-the-query');
      expectError(await send('/api/v2/wallet'), 404, 'NOT_FOUND');
      expectError(await send('/api/v1/wallet/grants', { method: 'POST', body: '{}' }), 404, 'NOT_FOUND');
      // A static file that is not there falls through to the same answer.
      expectError(await send('/no-such-page.html', { token: null }), 404, 'NOT_FOUND');
    });

    it('answers a wrong method 405 METHOD_NOT_ALLOWED with Allow', async () => {
      const wallet = await send('/api/v1/wallet', { method: 'DELETE' });
      expectError(wallet, 405, 'METHOD_NOT_ALLOWED', /^DELETE is not allowed on \/api\/v1\/wallet; allowed: GET, HEAD$/);
      expect(wallet.headers.get('allow')).toBe('GET, HEAD');
      const redeem = await send('/api/v1/wallet/redeem');
      expectError(redeem, 405, 'METHOD_NOT_ALLOWED');
      expect(redeem.headers.get('allow')).toBe('POST');
      // Path parameters match any segment.
      const topup = await send('/api/v1/topups/00000000-0000-4000-8000-000000000000', { method: 'PUT', body: '{}' });
      expectError(topup, 405, 'METHOD_NOT_ALLOWED');
      expect(topup.headers.get('allow')).toBe('GET, HEAD');
    });

    it('answers a body over the limit 413 PAYLOAD_TOO_LARGE, and a charset it cannot read 415', async () => {
      const big = JSON.stringify({ idempotencyKey: 'big', code: 'A', pad: 'x'.repeat(200 * 1024) });
      expectError(await send('/api/v1/wallet/redeem', { method: 'POST', body: big }), 413, 'PAYLOAD_TOO_LARGE', /limit/);
      expectError(await send('/api/v1/wallet/redeem', { method: 'POST', body: '{"code":"A"}', contentType: 'application/json; charset=latin1' }), 415, 'UNSUPPORTED_MEDIA_TYPE', /charset/);
      // Under the parser's limit but over the engine's 16 KiB: the engine's refusal, with the same status.
      expectError(await send('/api/v1/wallet/redeem', { method: 'POST', body: JSON.stringify({ idempotencyKey: 'mid', code: 'A', pad: 'x'.repeat(20 * 1024) }) }), 413, 'PAYLOAD_TOO_LARGE');
      // The top-up route's own limit answers the same way.
      expectError(await send('/api/v1/topups', { method: 'POST', body: JSON.stringify({ amount: '7.00', currency: 'USD', provider: 'stripe', pad: 'x'.repeat(20 * 1024) }) }), 413, 'PAYLOAD_TOO_LARGE');
    });

    it('answers invalid fields 400 with the engine\'s code, and tokens 401 and 403 with theirs', async () => {
      expectError(await send('/api/v1/wallet/redeem', { method: 'POST', body: JSON.stringify({ idempotencyKey: 'v1', code: 12345 }) }), 400, 'INVALID_FIELD');
      expectError(await send('/api/v1/wallet/usage?from=yesterday&to=today'), 400, 'INVALID_FIELD');
      expectError(await send('/api/v1/wallet/redeem', { method: 'POST', body: '[]' }), 400, 'MALFORMED_JSON');
      expectError(await send('/api/v1/topups', { method: 'POST', body: JSON.stringify({ amount: '1.001', currency: 'USD', provider: 'stripe' }) }), 400, 'TOO_MANY_DECIMALS');
      expectError(await send('/api/v1/wallet', { token: null }), 401, 'UNAUTHENTICATED', /token is required/);
      expectError(await send('/api/v1/wallet', { token: 'garbage' }), 401, 'UNAUTHENTICATED', /invalid token/);
      expectError(await send('/api/v1/operator/audit'), 403, 'FORBIDDEN');
      expectError(await send('/api/v1/wallet/redeem', { method: 'POST', body: JSON.stringify({ idempotencyKey: 'v2', code: 'NO-SUCH-CODE' }) }), 404, 'UNKNOWN_VOUCHER_CODE');
    });

    it('answers an unexpected error 500 INTERNAL, telling nothing of it', async () => {
      const billing = gateway.app.get(BillingClient);
      const spy = jest.spyOn(billing, 'request').mockRejectedValueOnce(new Error('connect ECONNREFUSED postgres://billing:hunter2@db.internal:5432'));
      try {
        const answer = await send('/api/v1/wallet');
        expectError(answer, 500, 'INTERNAL', /^internal error$/);
        expect(answer.text).not.toMatch(/hunter2|db\.internal|ECONNREFUSED|\.ts:\d+|at /);
      } finally {
        spy.mockRestore();
      }
      expect((await send('/api/v1/wallet')).status).toBe(200);
    });

    it('leaves the provider webhooks their formats, and /health, the dashboard and /docs theirs', async () => {
      // Stripe and PayPal: the controller's `{received: false, error}`, for what body-parser refuses too.
      for (const provider of ['stripe', 'paypal']) {
        const broken = await send(`/webhooks/${provider}`, { method: 'POST', body: '{', token: null });
        expect({ status: broken.status, body: broken.json }).toEqual({ status: 400, body: { received: false, error: expect.stringMatching(/not valid JSON/) } });
        const unsigned = await send(`/webhooks/${provider}`, { method: 'POST', body: '{"id":"evt_1"}', token: null });
        expect(unsigned.status).toBe(400);
        expect(unsigned.json).toEqual({ received: false, error: expect.any(String) });
      }
      // VNPAY's IPN answers 200 with its RspCode table.
      const ipn = await send('/webhooks/vnpay/ipn?vnp_TxnRef=x', { token: null });
      expect({ status: ipn.status, body: ipn.json }).toEqual({ status: 200, body: { RspCode: expect.any(String), Message: expect.any(String) } });
      expect(await send('/health', { token: null })).toMatchObject({ status: 200, json: { status: 'up' } });
      const page = await send('/', { token: null });
      expect([page.status, page.headers.get('content-type')]).toEqual([200, expect.stringMatching(/^text\/html/)]);
      const docs = await send('/docs', { token: null });
      expect([docs.status, docs.headers.get('content-type')]).toEqual([200, expect.stringMatching(/^text\/html/)]);
      expect((await send('/docs-json', { token: null })).json).toMatchObject({ openapi: expect.any(String) });
    });
  });

  describe('amounts at the ledger scale', () => {
    it("answers authorize's required amount rounded to the ledger's 8 decimals, in every currency", async () => {
      // 10 minutes of an hourly rate is a sixth of it: 2.50 / 6 = 0.41666666..., 62000 / 6 = 10333.33..., 380 / 6 = 63.33...
      const cases: [string, string, string, string][] = [
        [org, 'USD', '100.00', '0.41666667'],
        ['he-vnd', 'VND', '1000000', '10333.33333333'],
        ['he-jpy', 'JPY', '10000', '63.33333333'],
      ];
      for (const [o, currency, amount, required] of cases) {
        if (o !== org) await client.request(o, 'topup', { idempotencyKey: 't', amount, currency, provider: 'stripe', reference: `pi_${o}` });
        const answer = await send('/api/v1/wallet/authorize?service=gpu-container&sku=h100-1x&workspaceId=ws-1', { as: o });
        expect([o, answer.status, answer.json.required, answer.json.authorized]).toEqual([o, 200, required, true]);
      }
      // Refused: the reason names the same, rounded, amount.
      await client.request('he-poor', 'topup', { idempotencyKey: 't', amount: '0.40', currency: 'USD', provider: 'stripe', reference: 'pi_poor' });
      const poor = await send('/api/v1/wallet/authorize?service=gpu-container&sku=h100-1x&workspaceId=ws-1', { as: 'he-poor' });
      expect(poor.json).toMatchObject({ ok: true, authorized: false, required: '0.41666667', usable: '0.4', reason: expect.stringContaining('(0.41666667 USD)') });
    });

    it('answers every amount of the wallet, ledger, usage, authorize, resources and top-ups with at most 8 decimals', async () => {
      // A resource that ran 7 min 1.234 s and keeps its 10 GB: charges by the millisecond.
      const start = Date.now() - 7 * 60_000 - 1234;
      const r = { orgId: org, resourceId: 'r-he', storageGb: 10 };
      await plane.publish(r, 'RUNNING', start);
      await plane.publish(r, 'STOPPED', start + 5 * 60_000 + 777);
      await eventually(async () => (await send('/api/v1/wallet/ledger?limit=100')).json.entries.length, (n) => n >= 2);
      const from = new Date(Date.now() - 86_400_000).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      const started = await send('/api/v1/topups', { method: 'POST', body: JSON.stringify({ amount: '12.34', currency: 'USD', provider: 'stripe' }) });
      expect(started.status).toBe(201);
      const answers = {
        wallet: await send('/api/v1/wallet'),
        ledger: await send('/api/v1/wallet/ledger?limit=100'),
        usage: await send(`/api/v1/wallet/usage?from=${from}&to=${to}`),
        authorize: await send('/api/v1/wallet/authorize?service=gpu-container&sku=h200-1x&workspaceId=ws-1'),
        resources: await send('/api/v1/resources'),
        topupStarted: started,
        topup: await send(`/api/v1/topups/${started.json.topup.id}`),
      };
      const amounts: string[] = [];
      const tooPrecise: string[] = [];
      for (const [route, answer] of Object.entries(answers)) {
        expect([route, answer.status, answer.json?.ok]).toEqual([route, answer === started ? 201 : 200, true]);
        walk(answer.json, route, (where, value) => {
          amounts.push(where);
          const decimals = value.split('.')[1]?.length ?? 0;
          if (decimals > LEDGER_SCALE) tooPrecise.push(`${where} = ${value}`);
        });
      }
      expect(tooPrecise).toEqual([]);
      // The walk saw amounts of every kind: balance, ledger entries and splits, usage, authorize, the top-up.
      for (const seen of ['wallet.balance.exact.total', 'ledger.entries.1.amount', 'ledger.entries.1.split.0.amount', 'usage.usage.0.amount', 'authorize.required', 'authorize.usable', 'topup.topup.amount']) expect(amounts).toContain(seen);
    });
  });
});

/** GPU-hours are time, not money (README: usage); counts and ids are not amounts. */
const NOT_MONEY = /^(gpuHours|gpuHoursDisplay|usageMs|seq|runwaySeconds|storageGb|.*Id|id|idempotencyKey|providerRef|reference|description|reason|day)$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

/** Calls `amount` for every decimal string of a reply that is not one of NOT_MONEY's fields. */
function walk(value: unknown, where: string, amount: (where: string, value: string) => void, key = ''): void {
  if (NOT_MONEY.test(key)) return;
  if (typeof value === 'string' && DECIMAL.test(value)) amount(where, value);
  else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${where}.${i}`, amount, key));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, `${where}.${k}`, amount, k);
}
