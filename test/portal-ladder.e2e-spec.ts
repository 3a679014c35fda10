import * as fs from 'fs';
import * as path from 'path';
import { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/chromium';
import { Decimal } from '@billing/domain';
import { isolatedNames, startEngine, TestEngine, WalletClient } from './support/engine';
import { startGateway, TestGateway } from './support/gateway';
import { ControlPlane, eventually } from './support/lifecycle';

/** Debian's Chromium, as .ci/run installs it; no browser download. */
const ARTIFACTS = path.join(__dirname, '..', 'test-artifacts', 'portal');
const PHONE_WIDTH = 420;
/** GPUs stop when available reaches -5; stored data is scheduled for deletion when the total reaches -8, 0.01 day (14 min 24 s) later. */
const LADDER_ENV = { TICK_INTERVAL_MS: '200', HOLD_MINUTES: '0', STOP_OVERDRAFT: '5', STORAGE_DEBT_LIMIT: '8', STORAGE_DELETION_DAYS: '0.01' };

/**
 * The overview's enforcement ladder in a real headless Chromium against the real gateway, engine,
 * PostgreSQL and NATS: one organization walked down it (all clear, warned below the 1-hour runway
 * mark while a GPU runs, new GPUs needing available funds, GPUs stopped, storage deletion
 * scheduled with a live countdown and the exact top-up that cancels it) and back up by that top-up.
 */
describe('portal: the enforcement ladder in Chromium', () => {
  const names = isolatedNames();
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;
  let plane: ControlPlane;
  let browser: Browser;
  const run = Date.now().toString(36);
  const org = `portal-ladder-${run}`;
  const gpu = { orgId: org, resourceId: 'r-gpu', sku: 'h100-1x', workspaceId: 'ws-1' };
  let key = 0;

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    engine = await startEngine(LADDER_ENV, names);
    gateway = await startGateway(names.subjectPrefix);
    client = await WalletClient.connect(names.subjectPrefix);
    plane = await ControlPlane.connect(engine.config.lifecycleSubjectPrefix);
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await plane?.publish(gpu, 'DELETED', Date.now()).catch(() => undefined);
    await browser?.close();
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    await plane?.close();
  });

  const topup = (amount: string) => client.request(org, 'topup', { idempotencyKey: `t-${++key}`, amount, currency: 'USD', provider: 'bank', reference: `bank-${run}-${key}` });
  const debit = (amount: string) => client.request(org, 'debit', { idempotencyKey: `d-${++key}`, amount, service: 'gpu-container', workspaceId: 'ws-1' });
  const snapshot = async () => (await client.request(org, 'balance')).balance;
  /** The ladder as the page shows it: the step marked, each rung's state, the words. */
  const shown = (page: Page) =>
    page.evaluate<{ step: string | null; rungs: Record<string, string>; words: string }>(`(() => {
      const l = document.querySelector('[data-testid="ladder"]');
      const rungs = {};
      for (const li of document.querySelectorAll('[data-testid^="ladder-step-"]')) rungs[li.dataset.testid.slice('ladder-step-'.length)] = li.dataset.state;
      return { step: l ? l.dataset.step : null, rungs, words: l ? l.querySelector('[data-testid="ladder-words"]').textContent.replace(/\\s+/g, ' ').trim() : '' };
    })()`);
  const atStep = (page: Page, step: string) => eventually(() => shown(page), (s) => s.step === step, 15_000);
  /** "HH:MM:SS" or "D d HH:MM:SS" in seconds. */
  const seconds = (clock: string) => {
    const m = /^(?:(\d+) d )?(\d\d):(\d\d):(\d\d)$/.exec(clock);
    if (!m) throw new Error(`not a countdown: ${clock}`);
    return Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
  };

  it('walks one organization down the ladder, counts down to the deletion of its stored data, and a top-up of the amount shown cancels it', async () => {
    expect(await topup('1.00')).toMatchObject({ ok: true });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${gateway.url}/#token=${gateway.token(org)}`);
    await eventually(() => page.getByTestId('status').textContent(), (t) => t === 'connected', 15_000);

    const ok = await atStep(page, 'ok');
    expect(ok.words).toBe('All clear: GPUs launch and run as usual.');
    expect(Object.values(ok.rungs)).toEqual(['ahead', 'ahead', 'ahead', 'ahead', 'ahead']);

    // A GPU at 2.50 an hour on 1.00: about 24 minutes, under the 1-hour mark (RUNWAY_MARKS' default 24 h, 1 h, 10 min).
    await plane.publish(gpu, 'RUNNING', Date.now());
    const warned = await atStep(page, 'runway_low');
    expect(warned.words).toMatch(/^Warned: at the current burn the balance lasts 0 h 2\d min, under the 1 h mark\. Top up/);
    expect(warned.rungs).toEqual({ runway_low: 'current', launches_blocked: 'ahead', gpus_stopped: 'ahead', storage_deletion_scheduled: 'ahead', storage_deleted: 'ahead' });
    expect(await page.getByTestId('ladder-step-runway_low').getAttribute('aria-current')).toBe('step');
    await page.screenshot({ path: path.join(ARTIFACTS, 'overview-ladder-warned.png'), fullPage: true });
    await plane.publish(gpu, 'STOPPED', Date.now()); // the rest is debits: a total that stands still

    // Available below zero, above the stop at -5: launches need funds, running GPUs go on.
    expect(await debit('2')).toMatchObject({ ok: true });
    const blocked = await atStep(page, 'launches_blocked');
    expect(blocked.words).toMatch(/^New GPUs need available funds: available is -\$1\.\d\d, so starting one is refused\. Running GPUs go on until available reaches -\$5\.00, then they are stopped\./);
    expect(blocked.rungs).toMatchObject({ runway_low: 'passed', launches_blocked: 'current', gpus_stopped: 'ahead' });

    expect(await debit('5')).toMatchObject({ ok: true });
    const stopped = await atStep(page, 'gpus_stopped');
    expect(stopped.words).toMatch(/^Running GPUs have been sent stop commands: available \(-\$6\.\d\d\) is at or below -\$5\.00\. Storage goes on billing until the total reaches -\$8\.00, when its deletion is scheduled\./);
    expect(stopped.rungs).toMatchObject({ launches_blocked: 'passed', gpus_stopped: 'current', storage_deletion_scheduled: 'ahead' });

    // Past the storage debt limit: deletion scheduled, a countdown, and the top-up that cancels it.
    expect(await debit('3')).toMatchObject({ ok: true });
    const scheduled = await atStep(page, 'storage_deletion_scheduled');
    const b = await snapshot();
    expect(b.ladder).toMatchObject({ step: 'storage_deletion_scheduled', storageDeletionAt: expect.any(String) });
    const pay = new Decimal(b.exact.total).negated().toDecimalPlaces(2, Decimal.ROUND_UP).toFixed(2);
    expect(scheduled.words).toContain(`Top up at least $${pay} to cancel: that is the debt now, and storage keeps billing`);
    expect(await page.getByTestId('ladder-pay').textContent()).toBe(`$${pay}`);
    expect(scheduled.rungs).toMatchObject({ gpus_stopped: 'passed', storage_deletion_scheduled: 'current', storage_deleted: 'ahead' });
    const first = seconds((await page.getByTestId('ladder-countdown').textContent())!);
    const left = (new Date(b.ladder.storageDeletionAt).getTime() - Date.now()) / 1000;
    expect(Math.abs(first - left)).toBeLessThan(3);
    expect(first).toBeLessThanOrEqual(864);
    // It counts down on its own, with no balance pushed meanwhile.
    const seq = await page.getByTestId('seq').textContent();
    const later = seconds(await eventually(() => page.getByTestId('ladder-countdown').textContent().then((t) => t!), (t) => seconds(t) <= first - 2, 5_000));
    expect(later).toBeGreaterThan(first - 5);
    expect(await page.getByTestId('seq').textContent()).toBe(seq);
    await page.screenshot({ path: path.join(ARTIFACTS, 'overview-ladder-deletion.png'), fullPage: true });

    // On a phone, without overflow.
    await page.setViewportSize({ width: PHONE_WIDTH, height: 900 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE_WIDTH);
    await page.screenshot({ path: path.join(ARTIFACTS, 'phone-overview-ladder.png'), fullPage: true });

    // The amount shown brings the total back to zero or more: the countdown ends.
    expect(await topup(pay)).toMatchObject({ ok: true });
    const back = await eventually(() => shown(page), (s) => s.step !== 'storage_deletion_scheduled', 15_000);
    expect(new Decimal((await snapshot()).exact.total).isNegative()).toBe(false);
    expect((await snapshot()).ladder).toMatchObject({ storageDeletionAt: null });
    expect(['ok', 'launches_blocked']).toContain(back.step); // a total of 0.00 exactly leaves nothing available
    expect(await page.getByTestId('ladder-countdown').count()).toBe(0);
    await page.close();
  });
});
