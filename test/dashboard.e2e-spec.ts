import { Browser, chromium } from 'playwright-core';
import { startEngine, TestEngine, WalletClient } from './support/engine';
import { startGateway, TestGateway } from './support/gateway';
import { ControlPlane, eventually } from './support/lifecycle';

/** Debian's Chromium, as .ci/run installs it; no browser download. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The live dashboard in a real headless Chromium: the balance it shows follows the ticks. */
describe('live dashboard in a browser', () => {
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;
  let browser: Browser;

  beforeAll(async () => {
    engine = await startEngine({ TICK_INTERVAL_MS: '200' });
    gateway = await startGateway(engine.config.subjectPrefix);
    client = await WalletClient.connect(engine.config.subjectPrefix);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
  });

  it('shows the VND balance without decimals and follows it as a running GPU is charged', async () => {
    const org = 'dash-vnd';
    await client.request(org, 'topup', { idempotencyKey: 't', amount: '1000000', currency: 'VND', provider: 'vnpay', reference: 'vnp_dash' });
    const page = await browser.newPage();
    await page.goto(`${gateway.url}/#token=${gateway.token(org)}`);
    const total = page.getByTestId('total');
    await eventually(() => total.textContent(), (t) => t === '₫1,000,000', 15_000);

    const plane = new ControlPlane(client.nc, engine.config.lifecycleSubjectPrefix);
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
});
