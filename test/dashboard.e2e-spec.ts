import { Browser } from 'playwright-core';
import { launchChromium } from './support/chromium';
import { startEngine, TestEngine, WalletClient } from './support/engine';
import { startGateway, TestGateway } from './support/gateway';
import { ControlPlane, eventually } from './support/lifecycle';

/** Debian's Chromium, as .ci/run installs it; no browser download. */

/** The live dashboard in a real headless Chromium: the balance it shows follows the ticks. */
describe('live dashboard in a browser', () => {
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;
  let plane: ControlPlane | undefined;
  let browser: Browser;

  beforeAll(async () => {
    engine = await startEngine({ TICK_INTERVAL_MS: '200' });
    gateway = await startGateway(engine.config.subjectPrefix);
    client = await WalletClient.connect(engine.config.subjectPrefix);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    await plane?.close();
  });

  it('shows the VND balance without decimals and follows it as a running GPU is charged', async () => {
    const org = 'dash-vnd';
    await client.request(org, 'topup', { idempotencyKey: 't', amount: '1000000', currency: 'VND', provider: 'vnpay', reference: 'vnp_dash' });
    const page = await browser.newPage();
    await page.goto(`${gateway.url}/#token=${gateway.token(org)}`);
    const total = page.getByTestId('total');
    await eventually(() => total.textContent(), (t) => t === '₫1,000,000', 15_000);

    plane = await ControlPlane.connect(engine.config.lifecycleSubjectPrefix);
    await plane.publish({ orgId: org, resourceId: 'r-dash', sku: 'h100-1x' }, 'RUNNING', Date.now() - 60_000);
    const shown = new Set<string>();
    await eventually(
      async () => {
        shown.add((await total.textContent()) ?? '');
        return shown.size;
      },
      (n) => n >= 4,
      20_000,
    );
    for (const text of shown) expect(text).toMatch(/^₫\d{1,3}(,\d{3})*$/);
    // What the page shows is what the engine says, rounded to whole dong.
    const seq = Number(await page.getByTestId('seq').textContent());
    const { balance } = await client.request(org, 'balance');
    expect(balance.seq).toBeGreaterThanOrEqual(seq);
    await plane.publish({ orgId: org, resourceId: 'r-dash', sku: 'h100-1x' }, 'DELETED', Date.now());
    const final = await eventually(async () => (await client.request(org, 'balance')).balance, (b) => b.burnRatePerHour === '0');
    await eventually(() => total.textContent(), (t) => t === `₫${final.total.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}`, 15_000);
    await page.close();
  });

  it('shows components that add up to the total shown, and usage per workspace as the engine rounded it', async () => {
    const org = 'dash-usd';
    await client.request(org, 'topup', { idempotencyKey: 't', amount: '10.00', currency: 'USD', provider: 'stripe', reference: 'pi_dash' });
    await client.request(org, 'grant', { idempotencyKey: 'p', kind: 'plan', amount: '3.335', currency: 'USD' });
    await client.request(org, 'grant', { idempotencyKey: 'v', kind: 'voucher', amount: '1.335', currency: 'USD', expiresAt: new Date(Date.now() + 86400_000).toISOString() });
    await client.request(org, 'debit', { idempotencyKey: 'd1', amount: '0.004', service: 'vm', workspaceId: 'ws-dash', resourceId: 'r-1' });
    await client.request(org, 'debit', { idempotencyKey: 'd2', amount: '0.004', service: 'vm', workspaceId: 'ws-dash', resourceId: 'r-2' });
    const page = await browser.newPage();
    await page.goto(`${gateway.url}/#token=${gateway.token(org)}`);
    const card = (id: string) => page.locator(`#${id}`).textContent();
    // Exact: 3.327 + 1.335 + 10 = 14.662. Rounded one by one: 3.33 + 1.34 + 10.00 = 14.67, one cent over.
    await eventually(() => card('total'), (t) => t === '$14.66', 15_000);
    expect([await card('plan'), await card('voucher'), await card('topup')]).toEqual(['$3.33', '$1.33', '$10.00']);
    expect(await card('exact')).toBe('14.662');
    // Two rows of 0.004 each read 0.00; their sum is rounded once by the engine: 0.01.
    await page.getByTestId('nav-usage').click();
    const row = page.getByTestId('usage-row');
    await eventually(() => row.allTextContents(), (rows) => rows.length === 1, 15_000);
    expect(await row.locator('td').allTextContents()).toEqual(['ws-dash', '0.00', '$0.01']);
    await page.close();
  });

  it('keeps the token in memory only: out of the URL and the history once read, nothing in storage, and says when it expires', async () => {
    const org = 'dash-token';
    await client.request(org, 'topup', { idempotencyKey: 't', amount: '5.00', currency: 'USD', provider: 'stripe', reference: 'pi_dash_token' });
    const context = await browser.newContext();
    // What an older dashboard left behind is removed.
    const old = await context.newPage();
    await old.goto(`${gateway.url}/`);
    // Strings, run in the page (this project's TypeScript has no DOM types).
    await old.evaluate(`localStorage.setItem('billingToken', 'left-by-an-older-dashboard')`);
    await old.close();

    const page = await context.newPage();
    const token = gateway.token(org, 4);
    await page.goto(`${gateway.url}/#token=${token}`);
    await eventually(() => page.getByTestId('total').textContent(), (t) => t === '$5.00', 15_000);
    expect(page.url()).toBe(`${gateway.url}/`);
    const seen = await page.evaluate(`({ href: location.href, hash: location.hash, local: localStorage.length, session: sessionStorage.length })`);
    expect(seen).toEqual({ href: `${gateway.url}/`, hash: '', local: 0, session: 0 });
    // The page still works from memory: the live socket and the HTTP tables.
    expect(await page.locator('#status').textContent()).toBe('connected');
    await page.getByTestId('nav-resources').click();
    await eventually(() => page.getByTestId('resources-running').textContent(), (t) => (t ?? '').includes('None running.'), 15_000);

    // At the token's expiry the gateway closes the socket and the page says so.
    await eventually(() => page.locator('#status').textContent(), (t) => /session expired/.test(t ?? ''), 15_000);
    // A reload finds no token anywhere.
    await page.reload();
    expect(await page.locator('#status').textContent()).toMatch(/no token/);
    expect(await page.evaluate(`localStorage.length + sessionStorage.length`)).toBe(0);
    // Nor does the history: before the resources page is the page as opened, without its token, then the blank page the tab opened with.
    expect(page.url()).toBe(`${gateway.url}/#/resources`);
    await page.goBack();
    expect(page.url()).toBe(`${gateway.url}/`);
    await page.goBack();
    expect(page.url()).toBe('about:blank');
    await context.close();
  });
});
