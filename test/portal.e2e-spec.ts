import * as fs from 'fs';
import * as path from 'path';
import * as jwt from 'jsonwebtoken';
import { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/chromium';
import { INestApplication } from '@nestjs/common';
import { createAlertsApp } from '../apps/alerts/src/app';
import { EXAMPLE_COM_ADDRESS, testAlertsConfig, testResolver } from './support/alerts';
import { isolatedNames, startEngine, TestEngine, WalletClient } from './support/engine';
import { startGateway, TEST_JWT_SECRET, TestGateway } from './support/gateway';
import { ControlPlane, eventually } from './support/lifecycle';
import { operatorHeaders } from './support/operator';

/** Debian's Chromium, as .ci/run installs it; no browser download. */
/** Screenshots of every page, kept after the run (git-ignored). */
const ARTIFACTS = path.join(__dirname, '..', 'test-artifacts', 'portal');
const PHONE_WIDTH = 420;

/**
 * The customer portal in a real headless Chromium against the real gateway, engine, PostgreSQL
 * and NATS: every page with what the engine holds for one organization (plan, voucher and top-up
 * credit, charges, resources), on a desktop and on a 420 px phone, the live balance, a voucher
 * code redeemed, alert thresholds saved, and forged and expired tokens.
 */
describe('customer portal in Chromium', () => {
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;
  let plane: ControlPlane;
  let browser: Browser;
  let alerts: INestApplication;
  const org = 'portal-usd';
  const names = isolatedNames();

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    engine = await startEngine({ TICK_INTERVAL_MS: '200' }, names);
    // The alert service, for the webhook settings (its DNS is the test's: hooks.example.com is example.com's public address).
    alerts = await createAlertsApp(testAlertsConfig(names), false, { resolve: testResolver({ 'hooks.example.com': [EXAMPLE_COM_ADDRESS] }) });
    gateway = await startGateway(engine.config.subjectPrefix);
    client = await WalletClient.connect(engine.config.subjectPrefix);
    plane = await ControlPlane.connect(engine.config.lifecycleSubjectPrefix);
    browser = await launchChromium();
    const day = 86400_000;
    await client.request(org, 'topup', { idempotencyKey: 't', amount: '100.00', currency: 'USD', provider: 'stripe', reference: 'pi_portal' });
    await client.request(org, 'grant', { idempotencyKey: 'p', kind: 'plan', amount: '20', currency: 'USD', expiresAt: new Date(Date.now() + 30 * day).toISOString() });
    await client.request(org, 'grant', { idempotencyKey: 'v', kind: 'voucher', amount: '7.5', currency: 'USD', service: 'ai-notebook', expiresAt: new Date(Date.now() + 10 * day).toISOString() });
    await client.request(org, 'debit', { idempotencyKey: 'd1', amount: '0.004', service: 'vm', workspaceId: 'ws-a', resourceId: 'r-old' });
    await client.request(org, 'debit', { idempotencyKey: 'd2', amount: '0.004', service: 'vm', workspaceId: 'ws-a', resourceId: 'r-old' });
    await plane.publish({ orgId: org, resourceId: 'r-run', sku: 'h100-1x', workspaceId: 'ws-b' }, 'RUNNING', Date.now() - 60_000);
  }, 120_000);

  afterAll(async () => {
    await plane?.publish({ orgId: org, resourceId: 'r-run', sku: 'h100-1x', workspaceId: 'ws-b' }, 'DELETED', Date.now()).catch(() => undefined);
    await browser?.close();
    await alerts?.close();
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    await plane?.close();
  });

  async function open(width: number, token = gateway.token(org)): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.goto(`${gateway.url}/#token=${token}`);
    return page;
  }

  /** Nothing wider than the screen: tables scroll inside their own box. */
  async function expectNoOverflow(page: Page): Promise<void> {
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE_WIDTH);
  }

  /** Every control shown has a name a screen reader reads (a label, aria-label or its text), every canvas a text alternative. */
  async function expectNamedControls(page: Page): Promise<void> {
    const unnamed = await page.evaluate(`[...document.querySelectorAll('input, select, textarea, button, canvas')]
      .filter((e) => !e.closest('[hidden]'))
      .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.textContent || '').trim())
      .map((e) => e.outerHTML.slice(0, 80))`);
    expect(unnamed).toEqual([]);
  }

  async function visit(page: Page, id: string, ready: () => Promise<unknown>, shot: string): Promise<void> {
    // By keyboard: the page's link is focused and followed with Enter.
    await page.getByTestId(`nav-${id}`).focus();
    await page.keyboard.press('Enter');
    // The page renders on the next frame: the link is the current page once it has.
    await eventually(() => page.getByTestId(`nav-${id}`).getAttribute('aria-current'), (v) => v === 'page', 5_000);
    await ready();
    await expectNamedControls(page);
    await page.screenshot({ path: path.join(ARTIFACTS, `${shot}.png`), fullPage: true });
  }

  it.each([
    ['desktop', 1280],
    ['phone', PHONE_WIDTH],
  ])('shows every page with the engine\'s figures (%s)', async (name, width) => {
    const page = await open(width);
    const { balance } = await client.request(org, 'balance');
    await eventually(() => page.getByTestId('status').textContent(), (t) => t === 'connected', 15_000);
    // The components as the engine apportioned them: 20 plan + 7.50 voucher + 100 top-up - 0.008.
    await eventually(() => page.getByTestId('overview-voucher').textContent(), (t) => t === '$7.50', 15_000);
    expect(await page.getByTestId('overview-topup').textContent()).toBe(`$${balance.topup}`);
    expect(await page.getByTestId('overview-burn').textContent()).toMatch(/^\$\d+\.\d{2}\/h$/);
    expect(await page.getByTestId('overview-runway').textContent()).toMatch(/^\d+ (d|h) \d+ (h|min)$/);
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}-overview.png`), fullPage: true });
    if (width === PHONE_WIDTH) await expectNoOverflow(page);

    const pages: [string, () => Promise<unknown>][] = [
      ['transactions', async () => {
        const rows = page.getByTestId('ledger-row');
        await eventually(() => rows.count(), (n) => n >= 5, 15_000);
        // Newest first, following new entries; the first entries are on the oldest page.
        const seqs = (await page.locator('[data-testid=ledger-row] td:first-child').allTextContents()).map(Number);
        expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
        // (Disabled while every entry fits on the newest page.)
        if (await page.getByTestId('ledger-oldest').isEnabled()) await page.getByTestId('ledger-oldest').click();
        await eventually(() => page.locator('[data-testid=ledger-row] td:first-child').last().textContent(), (t) => t === '1', 15_000);
        // The ledger's own amounts, at its scale: a charge of 0.004 is not shown as 0.00.
        expect(await page.getByTestId('ledger').textContent()).toContain('-$0.004');
        await page.getByTestId('ledger-type').selectOption('grant');
        await eventually(() => rows.count(), (n) => n === 2, 5_000);
        const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('ledger-csv').click()]);
        const csv = fs.readFileSync((await download.path())!, 'utf8').trim().split('\r\n');
        expect(csv[0]).toBe('seq,at,type,amount,currency,totalAfter,service,workspaceId,resourceId,description,reference,idempotencyKey');
        expect(csv).toHaveLength(3);
        expect(csv.slice(1).every((l) => l.includes('"grant"'))).toBe(true);
        await page.getByTestId('ledger-type').selectOption('');
      }],
      ['usage', async () => {
        // Two charges of 0.004 read 0.00 each; the engine sums them per workspace, service and day, then rounds once.
        await eventually(() => page.getByTestId('usage-daily-row').allTextContents(), (rows) => rows.some((r) => r.includes('ws-a') && r.includes('$0.01')), 15_000);
        await page.getByTestId('usage-chart').waitFor();
      }],
      ['resources', async () => {
        await eventually(() => page.getByTestId('resources-running').textContent(), (t) => (t ?? '').includes('r-run'), 15_000);
        expect(await page.getByTestId('resources-running').textContent()).toMatch(/r-run.*\$\d+\.\d{2}/);
      }],
      ['vouchers', async () => {
        await eventually(() => page.getByTestId('voucher-row').allTextContents(), (rows) => rows.length === 1 && rows[0].startsWith('ai-notebook only$7.50'), 15_000);
      }],
      ['plan', async () => {
        await eventually(() => page.getByTestId('plan-row').count(), (n) => n === 1, 15_000);
        expect(await page.getByTestId('plan-left').textContent()).toMatch(/^\$\d+\.\d{2}$/);
      }],
      ['topup', async () => {
        await eventually(() => page.locator('#topup-provider option[value="vnpay"]').count(), (n) => n === 1, 15_000);
        expect(await page.getByTestId('topup-currency').inputValue()).toBe('USD');
      }],
      ['autotopup', () => eventually(() => page.getByTestId('autotopup-state').textContent(), (t) => t === 'Auto top-up is not set up.', 15_000)],
      ['alerts', () => page.getByTestId('alert-thresholds').waitFor()],
    ];
    for (const [id, ready] of pages) {
      await visit(page, id, ready, `${name}-${id}`);
      if (width === PHONE_WIDTH) await expectNoOverflow(page);
    }
    await page.close();
  });

  it('follows the balance live: a debit shows without a reload', async () => {
    const page = await open(1280);
    const total = page.getByTestId('total');
    await eventually(() => page.getByTestId('status').textContent(), (t) => t === 'connected', 15_000);
    await plane.publish({ orgId: org, resourceId: 'r-run', sku: 'h100-1x', workspaceId: 'ws-b' }, 'STOPPED', Date.now());
    const before = await eventually(async () => (await client.request(org, 'balance')).balance, (b) => b.burnRatePerHour === '0.00' || b.burnRatePerHour === '0');
    await eventually(() => total.textContent(), (t) => t === `$${before.total}`, 15_000);
    const seq = Number(await page.getByTestId('seq').textContent());
    const { balance } = await client.request(org, 'debit', { idempotencyKey: 'live-1', amount: '12.34', service: 'vm', workspaceId: 'ws-a', resourceId: 'r-live' }).then(() => client.request(org, 'balance'));
    await eventually(() => total.textContent(), (t) => t === `$${balance.total}`, 15_000);
    expect(Number(await page.getByTestId('seq').textContent())).toBeGreaterThan(seq);
    await page.screenshot({ path: path.join(ARTIFACTS, 'live-after-debit.png') });
    await page.close();
  });

  it('redeems a voucher code and saves low-balance thresholds', async () => {
    await client.nc.request(`${engine.config.subjectPrefix}.admin.vouchers.create`, JSON.stringify({ code: 'PORTAL5', amount: '5', currency: 'USD', expiresAfterDays: 30, maxRedemptions: 1 }), { headers: operatorHeaders(), timeout: 5000 });
    const page = await open(1280);
    await page.getByTestId('nav-vouchers').click();
    await page.getByTestId('redeem-code').fill('PORTAL5');
    await page.getByTestId('redeem-submit').click();
    await eventually(() => page.getByTestId('redeem-result').textContent(), (t) => t === 'Redeemed: $5 of voucher credit (any service).' || /^Redeemed: \$5(\.00)? /.test(t ?? ''), 15_000);
    await eventually(() => page.getByTestId('voucher-row').count(), (n) => n === 2, 15_000);
    await page.getByTestId('nav-alerts').click();
    await page.getByTestId('alert-thresholds').fill('50, 10.5');
    await page.getByTestId('alert-save').click();
    await eventually(() => page.getByTestId('alert-saved').textContent(), (t) => t === 'Alerts at $10.5, $50.', 15_000);
    await page.close();
    // Another visit shows what is in force before anything is typed: the balance carries it.
    const again = await open(1280);
    await again.getByTestId('nav-alerts').click();
    await eventually(() => again.getByTestId('alert-saved').textContent(), (t) => t === 'Alerts at $10.5, $50.', 15_000);
    await again.close();
  });

  it('lists and replaces the webhook endpoints through the alert service, and shows its refusal', async () => {
    const page = await open(PHONE_WIDTH);
    await page.getByTestId('nav-alerts').click();
    await eventually(() => page.getByTestId('webhooks').textContent(), (t) => (t ?? '').includes('No webhook endpoint.'), 15_000);
    await page.getByTestId('webhook-lines').fill('https://hooks.example.com/billing a-signing-secret-of-24ch');
    await page.getByTestId('webhook-save').click();
    await eventually(() => page.getByTestId('webhook-row').allTextContents(), (rows) => rows.length === 1 && rows[0].startsWith('https://hooks.example.com/billing'), 15_000);
    await page.screenshot({ path: path.join(ARTIFACTS, 'phone-alerts-webhooks.png'), fullPage: true });
    await expectNoOverflow(page);
    // A secret too short: refused whole, the list unchanged.
    await page.getByTestId('webhook-lines').fill('https://hooks.example.com/other short');
    await page.getByTestId('webhook-save').click();
    await eventually(() => page.locator('main [role=alert]').allTextContents(), (t) => t.some((x) => /secret/.test(x) && /INVALID_FIELD/.test(x)), 15_000);
    expect(await page.getByTestId('webhook-row').count()).toBe(1);
    await page.close();
  });

  it.each([
    ['forged', 'invalid', () => jwt.sign({ org }, 'not-the-gateway-secret-0123456789', { algorithm: 'HS256', issuer: gateway.tokens.issuer, audience: gateway.tokens.audience, expiresIn: 600 })],
    ['expired', 'expired', () => jwt.sign({ org, iat: Math.floor(Date.now() / 1000) - 120, exp: Math.floor(Date.now() / 1000) - 60 }, TEST_JWT_SECRET, { algorithm: 'HS256', issuer: gateway.tokens.issuer, audience: gateway.tokens.audience })],
  ])('says a %s token is %s and shows no empty wallet', async (name, kind, token) => {
    const page = await open(PHONE_WIDTH, token());
    const problem = page.getByTestId('session-problem');
    await problem.waitFor({ timeout: 15_000 });
    expect(await problem.getAttribute('data-kind')).toBe(kind);
    expect(await problem.textContent()).toMatch(kind === 'expired' ? /Your session has expired\..*Get a new link/ : /Your session is invalid.*Get a new link/);
    // No page and no figures: an empty table would read as an empty wallet.
    for (const id of ['transactions', 'vouchers', 'resources']) {
      await page.getByTestId(`nav-${id}`).click();
      expect(await page.locator('main table').count()).toBe(0);
      expect(await problem.isVisible()).toBe(true);
    }
    expect(await page.getByTestId('total').textContent()).toBe('-');
    await expectNoOverflow(page);
    await page.screenshot({ path: path.join(ARTIFACTS, `session-${name}.png`) });
    await page.close();
  });
});
