import * as fs from 'fs';
import * as path from 'path';
import { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/chromium';
import { isolatedNames, sql, startEngine, TestEngine, WalletClient } from './support/engine';
import { startGateway, TestGateway } from './support/gateway';
import { ControlPlane, eventually } from './support/lifecycle';

/** Debian's Chromium, as .ci/run installs it; no browser download. */
const ARTIFACTS = path.join(__dirname, '..', 'test-artifacts', 'portal');
const PHONE_WIDTH = 420;

/**
 * The portal's workspace budgets page in a real headless Chromium against the real gateway,
 * engine, PostgreSQL and NATS: each workspace's spend this month against its cap after real usage
 * (a debit, a running GPU's meters), followed live; a cap set and removed from the page; a bad cap
 * refused with the engine's error and nothing changed.
 */
describe('portal: workspace budgets in Chromium', () => {
  const names = isolatedNames();
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;
  let plane: ControlPlane;
  let browser: Browser;
  const run = Date.now().toString(36);
  const org = `portal-bud-${run}`;
  const gpu = { orgId: org, resourceId: 'r-gpu', sku: 'h100-1x', workspaceId: 'ws-gpu' };
  let key = 0;

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    engine = await startEngine({ TICK_INTERVAL_MS: '200' }, names);
    gateway = await startGateway(names.subjectPrefix);
    client = await WalletClient.connect(names.subjectPrefix);
    plane = await ControlPlane.connect(engine.config.lifecycleSubjectPrefix);
    browser = await launchChromium();
    expect(await client.request(org, 'topup', { idempotencyKey: `t-${++key}`, amount: '1000', currency: 'USD', provider: 'bank', reference: `bank-${run}` })).toMatchObject({ ok: true });
  }, 120_000);

  afterAll(async () => {
    await plane?.publish(gpu, 'DELETED', Date.now()).catch(() => undefined);
    await browser?.close();
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    await plane?.close();
  });

  async function open(width: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.goto(`${gateway.url}/#token=${gateway.token(org)}`);
    await eventually(() => page.getByTestId('status').textContent(), (t) => t === 'connected', 15_000);
    await page.getByRole('link', { name: 'Budgets' }).first().click();
    return page;
  }

  const debit = (workspaceId: string, amount: string) => client.request(org, 'debit', { idempotencyKey: `d-${++key}`, amount, service: 'gpu-container', workspaceId });
  const stored = () => sql('select workspace_id, monthly_cap::text as cap from workspace_budgets where org_id = $1 order by workspace_id', [org]);
  /** One workspace's row as the page shows it: spent, cap, left, standing, and the bar's width. */
  const row = (page: Page, workspaceId: string) =>
    page.evaluate<Record<string, string> | null>(`(() => {
      const tr = document.querySelector('[data-testid="budget-row"][data-workspace="${workspaceId}"]');
      if (!tr) return null;
      const cell = (id) => tr.querySelector('[data-testid="' + id + '"]').textContent;
      const bar = tr.querySelector('.budget-bar > div');
      return { spent: cell('budget-spent'), cap: cell('budget-cap'), left: cell('budget-remaining'), standing: cell('budget-standing'), state: tr.dataset.standing, bar: bar ? bar.style.width : null };
    })()`);
  const alerts = (page: Page) => page.locator('main [role=alert]').allTextContents();

  it("shows each workspace's spend this month against its cap after real usage, live", async () => {
    const set = await fetch(`${gateway.url}/api/v1/budgets`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${gateway.token(org)}` },
      body: JSON.stringify({ workspaceId: 'ws-a', monthlyCap: '100.00' }),
    });
    expect(await set.json()).toMatchObject({ ok: true, budgets: [{ workspaceId: 'ws-a', capDisplay: '100.00' }] });
    expect((await debit('ws-a', '30')).ok).toBe(true);
    await plane.publish(gpu, 'RUNNING', Date.now() - 60_000); // ws-gpu: charged by its meters, no cap

    const page = await open(1280);
    await eventually(() => row(page, 'ws-a'), (r) => r?.spent === '$30.00', 15_000);
    expect(await row(page, 'ws-a')).toEqual({ spent: '$30.00', cap: '$100.00', left: '$70.00', standing: 'within the cap', state: 'ok', bar: '30%' });
    const gpuRow = await eventually(() => row(page, 'ws-gpu'), (r) => r !== null && /^\$0\.\d\d$/.test(r.spent) && r.spent !== '$0.00', 15_000);
    expect(gpuRow).toMatchObject({ cap: 'no cap', left: '-', standing: 'no cap', state: 'none', bar: null });

    // A charge past 80%: the page follows without a reload (read again after the balance's push).
    expect((await debit('ws-a', '55.50')).ok).toBe(true);
    await eventually(() => row(page, 'ws-a'), (r) => r?.spent === '$85.50', 15_000);
    expect(await row(page, 'ws-a')).toMatchObject({ cap: '$100.00', left: '$14.50', standing: '80% of the cap reached', state: 'reached', bar: '85.5%' });
    await page.screenshot({ path: path.join(ARTIFACTS, 'budgets.png'), fullPage: true });
    await page.close();
  });

  it('sets a cap from the page, refuses a bad one with the API error and changes nothing, and removes a cap', async () => {
    const page = await open(PHONE_WIDTH);
    await eventually(() => row(page, 'ws-a'), (r) => r?.spent === '$85.50', 15_000);
    const unnamed = await page.evaluate(`[...document.querySelectorAll('input, select, textarea, button')]
      .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.textContent || '').trim()).map((e) => e.outerHTML.slice(0, 80))`);
    expect(unnamed).toEqual([]);

    // Lower ws-a's cap under its spend: used up, launches there refused.
    await page.getByLabel('Workspace', { exact: true }).fill('ws-a');
    await page.getByLabel('Monthly cap (USD)', { exact: true }).fill('80');
    await page.getByRole('button', { name: 'Set cap' }).click();
    await eventually(() => page.getByTestId('budget-saved').textContent(), (t) => t === 'Saved: ws-a is capped at $80.00 a month.', 15_000);
    expect(await row(page, 'ws-a')).toMatchObject({ spent: '$85.50', cap: '$80.00', left: '$0.00', state: 'exhausted', bar: '100%' });
    expect(await row(page, 'ws-a').then((r) => r!.standing)).toMatch(/^cap used up/);
    expect(await stored()).toEqual([{ workspace_id: 'ws-a', cap: '80.00000000' }]);
    const refused = await client.request(org, 'authorize', { service: 'gpu-container', sku: 'h100-1x', workspaceId: 'ws-a' });
    expect(refused).toMatchObject({ ok: true, authorized: false });

    // A cap on the GPU's workspace, which had none.
    await page.getByLabel('Workspace', { exact: true }).fill('ws-gpu');
    await page.getByLabel('Monthly cap (USD)', { exact: true }).fill('500.00');
    await page.getByRole('button', { name: 'Set cap' }).click();
    await eventually(() => row(page, 'ws-gpu'), (r) => r?.cap === '$500.00', 15_000);
    expect(await row(page, 'ws-gpu')).toMatchObject({ standing: 'within the cap', state: 'ok', left: expect.stringMatching(/^\$499\.9\d$/) }); // what is left, rounded down to the cent

    // A bad cap: the engine's refusal shown, nothing changed in the page or the database.
    const before = await row(page, 'ws-gpu');
    for (const [cap, code] of [
      ['10.001', 'TOO_MANY_DECIMALS'],
      ['-5', 'INVALID_AMOUNT'],
    ]) {
      await page.getByLabel('Monthly cap (USD)', { exact: true }).fill(cap);
      await page.getByRole('button', { name: 'Set cap' }).click();
      await eventually(() => alerts(page), (t) => t.some((x) => x.includes(`[${code}]`) && /[a-z]\. Nothing was changed\./.test(x)), 15_000);
      expect(await page.getByTestId('budget-saved').textContent()).toBe('');
    }
    expect(await row(page, 'ws-gpu')).toMatchObject({ cap: before!.cap, state: before!.state });
    expect(await stored()).toEqual([
      { workspace_id: 'ws-a', cap: '80.00000000' },
      { workspace_id: 'ws-gpu', cap: '500.00000000' },
    ]);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE_WIDTH);
    await page.screenshot({ path: path.join(ARTIFACTS, 'phone-budgets.png'), fullPage: true });

    // Remove ws-a's cap: spend still listed, without a cap; launches there allowed again.
    await page.getByRole('button', { name: 'Remove the cap of ws-a' }).click();
    await eventually(() => row(page, 'ws-a'), (r) => r?.cap === 'no cap', 15_000);
    expect(await page.getByTestId('budget-saved').textContent()).toBe('Removed the cap of ws-a.');
    expect(await alerts(page)).toEqual([]);
    expect(await stored()).toEqual([{ workspace_id: 'ws-gpu', cap: '500.00000000' }]);
    expect(await client.request(org, 'authorize', { service: 'gpu-container', sku: 'h100-1x', workspaceId: 'ws-a' })).toMatchObject({ ok: true, authorized: true });
    await page.close();
  });
});
