import { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './support/chromium';
import { sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { FakePortal } from './support/fake-portal';
import { FakeProviders } from './support/fake-providers';
import { startGateway, TestGateway } from './support/gateway';
import { eventually } from './support/lifecycle';
import { freePort } from './support/servers';

/** Debian's Chromium, as .ci/run installs it; no browser download. */

/**
 * The dashboard's top-up flow in a real Chromium, against the real gateway (its real provider
 * clients), the real engine, PostgreSQL and NATS, and local fakes of the three providers and of
 * the portal: the customer chooses a provider and an amount, goes to the provider's page (the
 * fake's), pays there, comes back, signs in again at the portal (the token stays in the page
 * that was left) and watches the top-up go from pending to credited as the provider's own
 * confirmation arrives. Card payments run on the fake's stand-in for Stripe.js (not Stripe.js
 * itself: see FakeStripe.browserSide). Nothing leaves the machine.
 */
describe('dashboard top-ups end to end in Chromium', () => {
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;
  let browser: Browser;
  const providers = new FakeProviders('flow');
  const { stripe, paypal, vnpay } = providers;
  const STRIPE = providers.credentials.stripe;
  const portal = new FakePortal(() => gateway.url, (org) => gateway.token(org));

  /** The gateway's settings for the fakes, on a port known before it starts (the providers' return URLs name it). */
  function providerEnv(port: number): Record<string, string> {
    const base = `http://127.0.0.1:${port}`;
    return providers.gatewayEnv({
      GATEWAY_PORT: String(port),
      PAYMENT_PROVIDER_TIMEOUT_MS: '3000',
      // PayPal's webhooks checked here, with the fake's pinned certificate.
      PAYPAL_WEBHOOK_VERIFICATION: 'local',
      PAYPAL_RETURN_URL: `${base}/payments/paypal/return`,
      VNPAY_RETURN_URL: `${base}/payments/vnpay/return`,
      DASHBOARD_SIGN_IN_URL: portal.signInUrl,
    });
  }

  beforeAll(async () => {
    await Promise.all([providers.start(), portal.start()]);
    engine = await startEngine();
    const port = await freePort();
    gateway = await startGateway(engine.config.subjectPrefix, { ...providerEnv(port), STRIPE_PUBLISHABLE_KEY: STRIPE.publishableKey, STRIPE_JS_URL: stripe.jsUrl });
    providers.deliverTo(gateway.url);
    client = await WalletClient.connect(engine.config.subjectPrefix);
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    await Promise.all([providers.stop(), portal.stop()]);
  });

  /**
   * A browser context that records, from its first moment, every Content-Security-Policy
   * violation (the event and the console's words), every request's URL and headers, and every
   * address its pages were at: what the checks below read.
   */
  interface Watched {
    readonly page: Page;
    readonly context: BrowserContext;
    violations(): Promise<string[]>;
    /** Where the token was seen: a request's URL (the fragment never leaves the browser, so is not part of one), a header sent to another origin than the gateway's, the address bar once the page had read it. */
    tokenLeaks(token: string): string[];
  }
  async function watched(): Promise<Watched> {
    const context = await browser.newContext();
    const violations: string[] = [];
    // Reported to the test as they happen, so that those of pages since left are kept too.
    await context.exposeBinding('__reportCspViolation', (source, violation: string) => violations.push(`${source.page?.url() ?? '?'}: ${violation}`));
    await context.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => window.__reportCspViolation(e.violatedDirective + ' ' + e.blockedURI));`);
    const requests: { url: string; headers: Record<string, string> }[] = [];
    context.on('request', (r) => requests.push({ url: r.url(), headers: r.headers() }));
    const page = await context.newPage();
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    return {
      page,
      context,
      violations: async () => [...violations],
      tokenLeaks: (token) => {
        const leaks: string[] = [];
        for (const r of requests) {
          const sent = r.url.split('#')[0];
          if (sent.includes(token)) leaks.push(`request URL ${sent}`);
          const toGateway = r.url.startsWith(`${gateway.url}/`);
          for (const [name, value] of Object.entries(r.headers)) if (value.includes(token) && !(toGateway && name === 'authorization')) leaks.push(`header ${name} to ${sent}`);
        }
        return leaks;
      },
    };
  }

  /** Every token the portal gave this test's browser: none may have gone anywhere but the gateway's Authorization headers and socket. */
  function expectNoTokenLeak(w: Watched): void {
    expect(portal.issued.length).toBeGreaterThan(0);
    for (const token of portal.issued) expect(w.tokenLeaks(token)).toEqual([]);
    expect(w.page.url()).not.toContain('token=');
  }

  const balance = async (org: string) => (await client.request(org, 'balance')).balance;
  const topupEntries = async (org: string): Promise<any[]> => (await client.request(org, 'ledger', { cursor: 0, limit: 500 })).entries.filter((e: any) => e.type === 'topup');
  const row = async (id: string) => (await sql('select status, version, settlement_facts, credited_at from topup_intents where id = $1', [id]))[0];
  const text = (page: Page, testId: string) => page.getByTestId(testId).textContent();
  const directives = (header: string): Record<string, string> => Object.fromEntries(header.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values.join(' ')]));
  const statusOf = (page: Page) => page.getByTestId('topup-status').getAttribute('data-status');

  /** The user opens the dashboard from the portal, as the portal's link does. */
  async function openDashboard(w: Watched, org: string): Promise<void> {
    portal.signedIn = org;
    portal.issued.length = 0;
    await w.page.goto(portal.openUrl('/'));
    await eventually(() => w.page.locator('#status').textContent(), (t) => t === 'connected', 15_000);
    // The address bar and the history lost the token at once.
    expect(w.page.url()).toBe(`${gateway.url}/`);
  }

  /** Chooses the provider, currency and amount in the top-up form and starts the top-up. */
  async function startTopup(page: Page, provider: string, currency: string, amount: string): Promise<void> {
    // The form is on the portal's Pay now page.
    await page.getByTestId('nav-topup').click();
    await eventually(() => page.locator(`#topup-provider option[value="${provider}"]`).isDisabled(), (disabled) => !disabled, 15_000);
    await page.getByTestId('topup-provider').selectOption(provider);
    // One currency to choose (the wallet's, or the provider's only one): shown, not chosen.
    const currencies = page.getByTestId('topup-currency');
    if (await currencies.isDisabled()) expect(await currencies.inputValue()).toBe(currency);
    else await currencies.selectOption(currency);
    await page.getByTestId('topup-amount').fill(amount);
    await page.getByTestId('topup-start').click();
  }

  /** Back from the provider without a token: the page shows the provider's word, and the portal gives the session back. */
  async function signInAgain(w: Watched): Promise<void> {
    expect(await w.page.locator('#status').textContent()).toMatch(/^no token/);
    const opened = portal.opened;
    await w.page.getByTestId('signin-link').click();
    await eventually(() => w.page.locator('#status').textContent(), (t) => t === 'connected', 15_000);
    expect(portal.opened).toBe(opened + 1);
    expect(w.page.url()).not.toContain('token=');
  }

  it('VNPAY: to the signed payment URL, pay on VNPAY\'s page, back through the checked return (which credits nothing), pending, then credited live by the IPN', async () => {
    const org = 'flow-vnpay';
    const w = await watched();
    await openDashboard(w, org);
    await startTopup(w.page, 'vnpay', 'VND', '250000');
    await w.page.waitForURL((u) => u.href.startsWith(vnpay.payUrl), { timeout: 15_000 });
    const txnRef = new URL(w.page.url()).searchParams.get('vnp_TxnRef')!;
    expect(new URL(w.page.url()).searchParams.get('vnp_Amount')).toBe('25000000');
    // The buyer pays; VNPAY's IPN comes later than the browser.
    vnpay.holdIpns = true;
    await w.page.getByTestId('vnpay-pay').click();
    await w.page.waitForURL((u) => u.origin === gateway.url && u.searchParams.get('provider') === 'vnpay', { timeout: 15_000 });
    const back = new URL(w.page.url());
    expect(back.pathname).toBe('/');
    expect(Object.fromEntries(back.searchParams)).toEqual({ provider: 'vnpay', result: 'paid', topup: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const topupId = back.searchParams.get('topup')!;
    expect(topupId.replace(/-/g, '')).toBe(txnRef);
    expect(await text(w.page, 'topup-return')).toMatch(/^VNPAY: VNPAY says the payment went through\. It is credited when VNPAY confirms it/);
    // The return was VNPAY's and said paid: nothing is credited for it.
    expect(await row(topupId)).toMatchObject({ status: 'pending', settlement_facts: [], credited_at: null });
    expect(await topupEntries(org)).toHaveLength(0);

    await signInAgain(w);
    expect(new URL(w.page.url()).searchParams.get('topup')).toBe(topupId);
    await eventually(() => statusOf(w.page), (s) => s === 'pending', 15_000);
    expect(await text(w.page, 'topup-status')).toBe('Top-up of ₫250,000 by VNPAY: pending, waiting for VNPAY to confirm the payment.');

    expect((await vnpay.releaseIpn(txnRef)).body).toEqual({ RspCode: '00', Message: 'Confirm Success' });
    await eventually(() => statusOf(w.page), (s) => s === 'credited', 15_000);
    expect(await text(w.page, 'topup-status')).toBe('Top-up of ₫250,000 by VNPAY: credited to your wallet.');
    await eventually(() => text(w.page, 'total'), (t) => t === '₫250,000', 15_000);
    expect(await topupEntries(org)).toHaveLength(1);

    expect(await w.violations()).toEqual([]);
    expectNoTokenLeak(w);
    expect(await w.page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    vnpay.holdIpns = false;
    await w.context.close();
  });

  it('VNPAY: a tampered or forged return shows an error and changes nothing', async () => {
    const org = 'flow-vnpay-tampered';
    const w = await watched();
    await openDashboard(w, org);
    await startTopup(w.page, 'vnpay', 'VND', '500000');
    await w.page.waitForURL((u) => u.href.startsWith(vnpay.payUrl), { timeout: 15_000 });
    const txnRef = new URL(w.page.url()).searchParams.get('vnp_TxnRef')!;
    const [{ id: topupId }] = await sql('select id from topup_intents where provider_ref = $1', [txnRef]);
    const before = await row(topupId);

    // The buyer's card was refused (51); someone rewrites the return VNPAY signed to say paid.
    const genuine = new URL(vnpay.signedReturnUrl(txnRef, '51'));
    const tampered = new URL(genuine);
    tampered.searchParams.set('vnp_ResponseCode', '00');
    tampered.searchParams.set('vnp_TransactionStatus', '00');
    await w.page.goto(tampered.href);
    expect(Object.fromEntries(new URL(w.page.url()).searchParams)).toEqual({ provider: 'vnpay', result: 'invalid_signature' });
    const banner = w.page.getByTestId('topup-return');
    expect(await banner.getAttribute('class')).toBe('banner error');
    expect(await banner.textContent()).toBe('VNPAY: The return from VNPAY did not verify: it was altered or does not come from VNPAY. Nothing was changed.');
    // A hash made up from scratch, and one signed with another secret, are no better.
    const forged = new URL(genuine);
    forged.searchParams.set('vnp_SecureHash', 'ab'.repeat(64));
    await w.page.goto(forged.href);
    expect(new URL(w.page.url()).searchParams.get('result')).toBe('invalid_signature');
    const unsigned = new URL(genuine);
    unsigned.searchParams.delete('vnp_SecureHash');
    await w.page.goto(unsigned.href);
    expect(new URL(w.page.url()).searchParams.get('result')).toBe('invalid_signature');
    // The genuine return says what it says, and changes nothing either.
    await w.page.goto(genuine.href);
    expect(Object.fromEntries(new URL(w.page.url()).searchParams)).toEqual({ provider: 'vnpay', result: 'failed', topup: topupId, code: '51' });
    expect(await banner.textContent()).toBe('VNPAY: VNPAY says the payment did not go through. Nothing was charged. (code 51)');

    expect(await row(topupId)).toEqual(before);
    expect(before).toMatchObject({ status: 'pending', settlement_facts: [] });
    expect(await topupEntries(org)).toHaveLength(0);
    expect((await balance(org)).total).toBe('0');
    expect(await w.violations()).toEqual([]);
    await w.context.close();
  });

  it('PayPal: to the approval link, approve at PayPal, back through the return, which captures: credited, once', async () => {
    const org = 'flow-paypal';
    // The return URL alone captures (PayPal's approval webhook is not sent).
    paypal.approvalWebhooks = false;
    try {
      const w = await watched();
      await openDashboard(w, org);
      await startTopup(w.page, 'paypal', 'USD', '19.99');
      await w.page.waitForURL((u) => u.origin === paypal.url && u.pathname === '/checkoutnow', { timeout: 15_000 });
      const orderId = new URL(w.page.url()).searchParams.get('token')!;
      expect(paypal.orders.get(orderId)!.purchase_units[0].amount).toEqual({ currency_code: 'USD', value: '19.99' });
      await w.page.getByTestId('paypal-approve').click();
      await w.page.waitForURL((u) => u.origin === gateway.url && u.searchParams.get('provider') === 'paypal', { timeout: 15_000 });
      const back = Object.fromEntries(new URL(w.page.url()).searchParams);
      expect(back).toEqual({ provider: 'paypal', result: 'captured', topup: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      expect(await text(w.page, 'topup-return')).toBe('PayPal: PayPal took the payment. It is credited as soon as PayPal confirms it to us.');

      await signInAgain(w);
      await eventually(() => statusOf(w.page), (s) => s === 'credited', 15_000);
      expect(await text(w.page, 'topup-status')).toBe('Top-up of $19.99 by PayPal: credited to your wallet.');
      await eventually(() => text(w.page, 'total'), (t) => t === '$19.99', 15_000);
      expect([...paypal.captures.values()].filter((c) => c.orderId === orderId)).toHaveLength(1);
      expect(await topupEntries(org)).toHaveLength(1);
      expect(await w.violations()).toEqual([]);
      expectNoTokenLeak(w);
      await w.context.close();
    } finally {
      paypal.approvalWebhooks = true;
    }
  });

  it('PayPal: a capture PayPal holds for review shows pending after the return, then credited live when PayPal completes it', async () => {
    const org = 'flow-paypal-review';
    paypal.reviewCaptures = true;
    try {
      const w = await watched();
      await openDashboard(w, org);
      await startTopup(w.page, 'paypal', 'JPY', '3000');
      await w.page.waitForURL((u) => u.origin === paypal.url && u.pathname === '/checkoutnow', { timeout: 15_000 });
      const orderId = new URL(w.page.url()).searchParams.get('token')!;
      await w.page.getByTestId('paypal-approve').click();
      await w.page.waitForURL((u) => u.origin === gateway.url && u.searchParams.get('provider') === 'paypal', { timeout: 15_000 });
      expect(new URL(w.page.url()).searchParams.get('result')).toBe('capture_pending');
      expect(await text(w.page, 'topup-return')).toBe('PayPal: PayPal is reviewing the payment. It is credited once PayPal confirms it.');

      await signInAgain(w);
      await eventually(() => statusOf(w.page), (s) => s === 'pending', 15_000);
      expect(await text(w.page, 'topup-status')).toBe('Top-up of ¥3,000 by PayPal: pending, waiting for PayPal to confirm the payment.');
      expect(await topupEntries(org)).toHaveLength(0);
      expect((await paypal.completeCapture(orderId)).status).toBe(200);
      await eventually(() => statusOf(w.page), (s) => s === 'credited', 15_000);
      await eventually(() => text(w.page, 'total'), (t) => t === '¥3,000', 15_000);
      expect(await topupEntries(org)).toHaveLength(1);
      expect(await w.violations()).toEqual([]);
      expectNoTokenLeak(w);
      await w.context.close();
    } finally {
      paypal.reviewCaptures = false;
    }
  });

  it('PayPal: cancelling at PayPal comes back cancelled, charges and credits nothing', async () => {
    const org = 'flow-paypal-cancel';
    const w = await watched();
    await openDashboard(w, org);
    await startTopup(w.page, 'paypal', 'JPY', '3000');
    await w.page.waitForURL((u) => u.origin === paypal.url, { timeout: 15_000 });
    await w.page.getByTestId('paypal-cancel').click();
    await w.page.waitForURL((u) => u.origin === gateway.url && u.searchParams.get('provider') === 'paypal', { timeout: 15_000 });
    expect(Object.fromEntries(new URL(w.page.url()).searchParams)).toEqual({ provider: 'paypal', result: 'cancelled' });
    expect(await text(w.page, 'topup-return')).toBe('PayPal: You cancelled at PayPal. Nothing was charged.');
    expect(await topupEntries(org)).toHaveLength(0);
    expect(await w.violations()).toEqual([]);
    await w.context.close();
  });

  it('Stripe: the Payment Element in the page (Stripe.js from STRIPE_JS_URL), pay, pending, then credited live by the webhook; a declined card says so', async () => {
    const org = 'flow-stripe';
    stripe.holdWebhooks = true;
    try {
      const w = await watched();
      await openDashboard(w, org);
      const csp = directives((await w.page.request.get(`${gateway.url}/`)).headers()['content-security-policy']);
      expect(csp).toMatchObject({ 'script-src': `'self' ${stripe.url}`, 'frame-src': stripe.url, 'connect-src': `'self' ${stripe.url}`, 'default-src': "'self'" });

      // A declined card first: Stripe's message, nothing credited, and the customer may try again.
      await startTopup(w.page, 'stripe', 'USD', '42.50');
      await w.page.frameLocator('[data-testid="stripe-frame"]').getByTestId('card-number').waitFor({ timeout: 15_000 });
      await eventually(() => statusOf(w.page), (s) => s === 'pending', 15_000);
      stripe.declineNextConfirm();
      await w.page.getByTestId('stripe-pay').click();
      await eventually(() => text(w.page, 'topup-message'), (t) => t === 'Stripe: Your card was declined. Nothing was charged.', 15_000);
      await w.page.getByTestId('stripe-pay').click();
      await eventually(() => text(w.page, 'topup-message'), (t) => t === 'Stripe took the payment. It is credited as soon as Stripe confirms it to us.', 15_000);
      expect(await statusOf(w.page)).toBe('pending');
      expect(await topupEntries(org)).toHaveLength(0);
      // No redirect: the page (the portal's Pay now), and the token in its memory, stayed.
      expect(w.page.url()).toBe(`${gateway.url}/#/topup`);

      // Stripe's events, the declined attempt's and the success's: the success is what counts.
      expect((await stripe.releaseWebhooks()).map((a) => a.status)).toEqual([200, 200]);
      await eventually(() => statusOf(w.page), (s) => s === 'credited', 15_000);
      expect(await text(w.page, 'topup-status')).toBe('Top-up of $42.50 by Card (Stripe): credited to your wallet.');
      await eventually(() => text(w.page, 'total'), (t) => t === '$42.50', 15_000);
      expect(await topupEntries(org)).toHaveLength(1);

      expect(await w.violations()).toEqual([]);
      expectNoTokenLeak(w);
      await w.context.close();
    } finally {
      stripe.holdWebhooks = false;
    }
  });

  it('follows only the organization\'s own top-ups, and shows the engine\'s refusal of an amount', async () => {
    const org = 'flow-own';
    const w = await watched();
    await openDashboard(w, org);
    // Too many decimals for the currency: the gateway's refusal, as it words it.
    await startTopup(w.page, 'vnpay', 'VND', '1000.5');
    await eventually(() => text(w.page, 'topup-message'), (t) => /\[TOO_MANY_DECIMALS\]$/.test(t ?? ''), 15_000);
    expect(w.page.url()).toBe(`${gateway.url}/#/topup`);
    await w.context.close();

    const started = await fetch(`${gateway.url}/api/v1/topups`, { method: 'POST', headers: { authorization: `Bearer ${gateway.token(org)}`, 'content-type': 'application/json' }, body: JSON.stringify({ amount: '200000', currency: 'VND', provider: 'vnpay' }) });
    const { topup } = (await started.json()) as { topup: any };
    const get = (as: string, id = topup.id) => fetch(`${gateway.url}/api/v1/topups/${id}`, { headers: { authorization: `Bearer ${gateway.token(as)}` } });
    const own = await get(org);
    expect(own.status).toBe(200);
    expect(await own.json()).toEqual({
      ok: true,
      topup: { id: topup.id, status: 'pending', credited: false, amount: '200000', currency: 'VND', provider: 'vnpay', providerRef: topup.providerRef, createdAt: expect.any(String), settledAt: null, creditedAt: null, reason: null },
    });
    for (const res of [await get('flow-someone-else'), await get(org, '00000000-0000-4000-8000-000000000000'), await get(org, 'not-an-id')]) {
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ ok: false, error: { code: 'UNKNOWN_TOPUP', message: 'no such top-up for this organization' } });
    }
    expect((await fetch(`${gateway.url}/api/v1/topups/${topup.id}`)).status).toBe(401);
  });

  describe('card payments where Stripe.js cannot be had', () => {
    let closedPort: number;
    const others: TestGateway[] = [];
    afterAll(async () => {
      for (const g of others) await g.stop();
    });

    async function otherGateway(env: Record<string, string>): Promise<TestGateway> {
      const g = await startGateway(engine.config.subjectPrefix, { ...providerEnv(await freePort()), ...env });
      others.push(g);
      return g;
    }

    it('says card payments are unavailable when Stripe.js cannot be reached, and the rest of the page works', async () => {
      closedPort = await freePort();
      const unreachable = `http://127.0.0.1:${closedPort}/v3/`;
      const g = await otherGateway({ STRIPE_PUBLISHABLE_KEY: STRIPE.publishableKey, STRIPE_JS_URL: unreachable });
      const w = await watched();
      portal.signedIn = 'flow-no-stripe';
      await w.page.goto(`${g.url}/#token=${g.token('flow-no-stripe')}`);
      await eventually(() => text(w.page, 'topup-notes'), (t) => /Stripe\.js could not be loaded/.test(t ?? ''), 15_000);
      expect(await text(w.page, 'topup-notes')).toBe(`Card payments are unavailable here: Stripe.js could not be loaded from 127.0.0.1:${closedPort}.`);
      expect(await w.page.locator('#topup-provider option[value="stripe"]').isDisabled()).toBe(true);
      expect(await w.page.locator('#topup-provider option[value="vnpay"]').isDisabled()).toBe(false);
      expect(await w.page.locator('#status').textContent()).toBe('connected');
      // The policy allowed the script; the network refused it: a failed load, not a violation.
      expect(await w.violations()).toEqual([]);
      await w.context.close();
    });

    it('says card payments are unavailable without a publishable key, loads no Stripe.js and allows no Stripe origin', async () => {
      const g = await otherGateway({});
      const header = (await fetch(`${g.url}/`)).headers.get('content-security-policy')!;
      expect(directives(header)).toMatchObject({ 'script-src': "'self'", 'connect-src': "'self'", 'default-src': "'self'" });
      expect(directives(header)['frame-src']).toBeUndefined();
      expect(header).not.toMatch(/stripe|127\.0\.0\.1/);
      const w = await watched();
      await w.page.goto(`${g.url}/#token=${g.token('flow-no-key')}`);
      await eventually(() => text(w.page, 'topup-notes'), (t) => (t ?? '').length > 0, 15_000);
      expect(await text(w.page, 'topup-notes')).toBe('Card payments are unavailable here: they are not set up on this gateway.');
      expect(await w.page.locator('#topup-provider option[value="stripe"]').isDisabled()).toBe(true);
      expect(await w.violations()).toEqual([]);
      await w.context.close();
    });
  });
});
