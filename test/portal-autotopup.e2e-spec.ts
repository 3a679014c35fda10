import * as fs from 'fs';
import * as path from 'path';
import { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/chromium';
import { Decimal } from '@billing/domain';
import { isolatedNames, startEngine, TestEngine, WalletClient } from './support/engine';
import { FakeProviders } from './support/fake-providers';
import { startGateway, TestGateway } from './support/gateway';
import { ControlPlane, eventually } from './support/lifecycle';

/** Debian's Chromium, as .ci/run installs it; no browser download. */
const ARTIFACTS = path.join(__dirname, '..', 'test-artifacts', 'portal');
const PHONE_WIDTH = 420;

/**
 * The portal's auto top-up page and the balance's available, held and runway in a real headless
 * Chromium against the real gateway, engine, PostgreSQL and NATS, with the local fake Stripe
 * (and its stand-in Stripe.js) saving the card and charging it: a card added in the page (a
 * SetupIntent confirmed with the Payment Element), settings refused without consent and on the
 * gateway's refusal (nothing saved), saved with consent and the SetupIntent and shown, a crossing
 * charged and listed in the history, turned off.
 */
describe('portal: auto top-up and the balance in Chromium', () => {
  const names = isolatedNames();
  const fakes = new FakeProviders('portalat');
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;
  let plane: ControlPlane;
  let browser: Browser;
  const run = Date.now().toString(36);
  const org = `portal-at-${run}`;
  const runner = `portal-run-${run}`;
  const gpu = { orgId: runner, resourceId: 'r-gpu', sku: 'h100-1x', workspaceId: 'ws-1' };
  let key = 0;

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await fakes.start();
    engine = await startEngine({ TICK_INTERVAL_MS: '200' }, names);
    gateway = await startGateway(names.subjectPrefix, { ...fakes.gatewayEnv(), STRIPE_PUBLISHABLE_KEY: fakes.credentials.stripe.publishableKey, STRIPE_JS_URL: fakes.stripe.jsUrl });
    fakes.deliverTo(gateway.url);
    client = await WalletClient.connect(names.subjectPrefix);
    plane = await ControlPlane.connect(engine.config.lifecycleSubjectPrefix);
    browser = await launchChromium();
    for (const o of [org, runner]) await client.request(o, 'topup', { idempotencyKey: `t-${++key}`, amount: '100', currency: 'USD', provider: 'bank', reference: `bank-${run}-${key}` });
  }, 120_000);

  afterAll(async () => {
    await plane?.publish(gpu, 'DELETED', Date.now()).catch(() => undefined);
    await browser?.close();
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    await plane?.close();
    await fakes.stop();
  });

  async function open(width: number, who: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.goto(`${gateway.url}/#token=${gateway.token(who)}`);
    await eventually(() => page.getByTestId('status').textContent(), (t) => t === 'connected', 15_000);
    return page;
  }

  const settings = async () => (await (await fetch(`${gateway.url}/api/v1/autotopup`, { headers: { authorization: `Bearer ${gateway.token(org)}` } })).json()) as any;
  /** Every control shown has a name a screen reader reads (as test/portal.e2e-spec.ts checks on the other pages). */
  async function expectNamedControls(page: Page): Promise<void> {
    const unnamed = await page.evaluate(`[...document.querySelectorAll('input, select, textarea, button')]
      .filter((e) => !e.closest('[hidden]'))
      .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.textContent || '').trim())
      .map((e) => e.outerHTML.slice(0, 80))`);
    expect(unnamed).toEqual([]);
  }

  const alerts = (page: Page) => page.locator('main [role=alert]').allTextContents();

  it('shows the runway in words, and what is available and held while a GPU runs', async () => {
    const page = await open(1280, runner);
    await eventually(() => page.getByTestId('runway-words').textContent(), (t) => t === 'nothing running: no burn', 15_000);
    await plane.publish(gpu, 'RUNNING', Date.now());
    const words = await eventually(() => page.getByTestId('runway-words').textContent(), (t) => /^about \d+ (d|h) \d+ (h|min) at the current burn$/.test(t ?? ''), 15_000);
    expect(words).toMatch(/^about \d+ h \d+ min at the current burn$/); // 100 at an H100's hourly rate: hours, not days
    // Available and held when the engine's balance carries them (an engine before holds does not: the page shows neither).
    const { balance } = await client.request(runner, 'balance');
    if (typeof balance.held === 'string') {
      // The GPU is charged every tick: the three figures of one snapshot, read in one go; the engine apportions available + held to read as the total.
      const shown = async () => page.evaluate<(string | null)[]>(`['overview-available', 'overview-held', 'total', 'exact-held'].map((id) => document.querySelector('[data-testid="' + id + '"]')?.textContent ?? null)`);
      const [available, held, total, exactHeld] = await eventually(shown, (v) => v[1] !== null && v[1] !== '$0.00', 15_000);
      const plain = (t: string | null) => new Decimal(t!.replace(/[$,]/g, ''));
      expect(plain(available).plus(plain(held)).equals(plain(total))).toBe(true);
      expect(exactHeld).toMatch(/^\d+(\.\d+)?$/);
    } else {
      expect(await page.getByTestId('overview-held').count()).toBe(0);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'overview-held-runway.png'), fullPage: true });
    // (A stop that commits no charge changes the burn rate and the holds at the same seq, which the gateway does not push: not checked live here.)
    await plane.publish(gpu, 'STOPPED', Date.now());
    await page.close();
  });

  it('adds a card, saves auto top-up only with consent, shows it, lists the top-up of a crossing, and turns it off', async () => {
    const page = await open(PHONE_WIDTH, org);
    await page.getByRole('link', { name: 'Auto top-up' }).first().click();
    await eventually(() => page.getByTestId('autotopup-state').textContent(), (t) => t === 'Auto top-up is not set up.', 15_000);
    expect(await page.getByTestId('autotopup-history').textContent()).toContain('No auto top-up yet.');
    await expectNamedControls(page);
    await page.getByLabel('Trigger amount (USD)', { exact: true }).fill('50.00');
    await page.getByLabel('Top up to (target)', { exact: true }).fill('200.00');
    await page.getByLabel('At most per top-up', { exact: true }).fill('500.00');
    await page.getByLabel('At most per UTC day', { exact: true }).fill('1000.00');
    await page.getByLabel('At most per UTC month', { exact: true }).fill('5000.00');
    // "Add a card": a SetupIntent from the gateway, Stripe's Payment Element in the page, confirmSetup without leaving it.
    expect(await page.getByTestId('autotopup-card').textContent()).toBe('No card yet: add one.');
    await page.getByRole('button', { name: 'Add a card' }).click();
    // Stripe's frame, once its card field shows (clicking before it loads can land on a frame still growing).
    await page.frameLocator('[data-testid="autotopup-card-element"] iframe').getByTestId('card-number').waitFor({ timeout: 15_000 });
    // The card's bank declines it first: said so, no card; the second try goes through.
    fakes.stripe.setup.declineNextConfirm(1);
    const saveCard = page.getByRole('button', { name: 'Save this card' });
    // At 900 px high the button sits on the viewport's bottom edge, where a click Playwright clamps there can end in the frame: scrolled to the middle first, as a user scrolls.
    await saveCard.evaluate((e) => e.scrollIntoView({ block: 'center' }));
    await saveCard.click();
    await eventually(() => alerts(page), (t) => t.some((x) => /Stripe: Your card was declined\. No card was added\./.test(x)), 15_000);
    expect(await page.getByTestId('autotopup-card').textContent()).toBe('No card yet: add one.');
    await saveCard.evaluate((e) => e.scrollIntoView({ block: 'center' }));
    await saveCard.click();
    const added = await eventually(() => page.getByTestId('autotopup-card').textContent(), (t) => /^Card to charge: pm_/.test(t ?? ''), 15_000);
    const setis = [...fakes.stripe.setup.setupIntents.values()].filter((si) => si.metadata.orgId === org);
    expect(setis).toHaveLength(1);
    expect(setis[0]).toMatchObject({ status: 'succeeded', usage: 'off_session' });
    const card = { customer: setis[0].customer!, id: setis[0].payment_method! };
    expect(added).toContain(card.id);
    expect((await settings()).autoTopup).toBeNull(); // a card added saves nothing by itself
    const consent = page.getByRole('checkbox', { name: /I authorize charges/ });
    // The consent states what it authorizes: this card, the trigger, the caps.
    expect(await consent.evaluate((e) => (e as unknown as { labels: { textContent: string }[] }).labels[0].textContent)).toMatch(
      new RegExp(`${card.id} without asking each time: whenever the balance falls below \\$50\\.00, one top-up towards \\$200\\.00, of at most \\$500\\.00 each, \\$1,000\\.00 a UTC day and \\$5,000\\.00 a UTC month`),
    );
    const save = page.getByRole('button', { name: 'Turn on auto top-up' });
    const puts: any[] = [];
    page.on('request', (r) => void (r.method() === 'PUT' && r.url().endsWith('/api/v1/autotopup') && puts.push(JSON.parse(r.postData() ?? 'null'))));

    // Without consent: refused in the page, nothing sent, nothing saved.
    await save.click();
    await eventually(() => alerts(page), (t) => t.some((x) => /consent box/.test(x)), 5_000);
    expect(puts).toEqual([]);
    expect((await settings()).autoTopup).toBeNull();

    // With consent but a target under the trigger: the gateway's refusal, shown by the form; nothing saved.
    await page.getByLabel('Top up to (target)', { exact: true }).fill('20.00');
    await consent.check();
    await save.click();
    await eventually(() => alerts(page), (t) => t.some((x) => /must be above the trigger/.test(x) && /\[INVALID_FIELD\]/.test(x) && /Nothing was saved/.test(x)), 15_000);
    expect(puts).toHaveLength(1);
    expect((await settings()).autoTopup).toBeNull();

    await page.getByLabel('Top up to (target)', { exact: true }).fill('200.00');
    await save.click();
    await eventually(() => page.getByTestId('autotopup-state').textContent(), (t) => t === 'On', 15_000);
    expect(await page.getByTestId('autotopup-trigger').textContent()).toBe('the balance falls below $50.00');
    expect(await page.getByTestId('autotopup-target').textContent()).toBe('$200.00');
    expect(await page.getByTestId('autotopup-caps').textContent()).toBe('$500.00 a top-up, $1,000.00 a UTC day, $5,000.00 a UTC month');
    expect(await page.getByTestId('autotopup-method').textContent()).toContain(card.id);
    expect(await page.getByTestId('autotopup-consent-given').textContent()).toMatch(/^given .+ by /);
    expect(await consent.isChecked()).toBe(false); // each save asks for consent again
    // The card was sent as its SetupIntent: the gateway read the card and customer from Stripe.
    expect(puts[puts.length - 1]).toMatchObject({ setupIntentId: setis[0].id, consent: true });
    expect(puts[puts.length - 1].paymentMethod).toBeUndefined();
    expect((await settings()).autoTopup).toMatchObject({ enabled: true, trigger: { amount: '50.00' }, target: '200.00', maxPerTopup: '500.00', maxPerDay: '1000.00', maxPerMonth: '5000.00', paymentMethod: card });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE_WIDTH);

    // A crossing (100 -> 40, below 50): one top-up of 160 to the target, charged, credited, listed without a reload.
    await client.request(org, 'debit', { idempotencyKey: `d-${++key}`, amount: '60', service: 'gpu-container', workspaceId: 'ws-1' });
    await eventually(() => page.getByTestId('total').textContent(), (t) => t === '$200.00', 20_000);
    const row = page.getByTestId('autotopup-history-row');
    await eventually(() => row.allTextContents(), (rows) => rows.length === 1 && /charged\$160\.00credited/.test(rows[0]), 15_000);
    expect(await row.first().textContent()).toContain((await settings()).history[0].paymentIntentId);
    await page.screenshot({ path: path.join(ARTIFACTS, 'phone-autotopup.png'), fullPage: true });

    // The off switch.
    await page.getByRole('button', { name: 'Turn off auto top-up' }).click();
    await eventually(() => page.getByTestId('autotopup-state').textContent(), (t) => t === 'Off', 15_000);
    expect(await page.getByTestId('autotopup-disabled-reason').textContent()).toMatch(/^turned off by /);
    expect((await settings()).autoTopup).toMatchObject({ enabled: false });
    expect(await page.getByRole('button', { name: 'Turn on auto top-up' }).count()).toBe(1);
    // The runway trigger, in whole minutes, sent in seconds.
    await page.getByRole('combobox', { name: /^Top up when/ }).selectOption('runway');
    await page.getByLabel('Runway trigger (minutes)', { exact: true }).fill('90');
    await consent.check();
    await page.getByRole('button', { name: 'Turn on auto top-up' }).click();
    await eventually(() => page.getByTestId('autotopup-state').textContent(), (t) => t === 'On', 15_000);
    expect(await page.getByTestId('autotopup-trigger').textContent()).toBe('the runway falls below 1 h 30 min');
    expect((await settings()).autoTopup).toMatchObject({ enabled: true, trigger: { runwaySeconds: 5400 } });
    await expectNamedControls(page);
    await page.getByRole('button', { name: 'Turn off auto top-up' }).click();
    await eventually(() => page.getByTestId('autotopup-state').textContent(), (t) => t === 'Off', 15_000);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE_WIDTH);
    await page.close();
  });
});
