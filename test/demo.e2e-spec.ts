import { randomBytes } from 'crypto';
import { NatsConnection } from 'nats';
import { Decimal } from '@billing/domain';
import { DemoHandle, runDemo } from '../apps/simulator/src/demo';
import { sql, startEngine, TestEngine } from './support/engine';
import { connectAs } from './support/nats-roles';

/** The demo's pace in this test: a summary a second, short cycles (the engine ticks every 200 ms). */
const SUMMARY_MS = 1000;
/** How long the demo may take to run three cycles on a loaded machine. */
const RUN_DEADLINE_MS = 75_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Seen {
  readonly type: string;
  readonly orgId: string;
  readonly body: any;
}

/**
 * The live demo (apps/simulator, run by `npm start`) against a real engine on the test's NATS and
 * PostgreSQL, on a fast clock: what it must show within its first cycles, that it keeps going, and
 * that its console is a summary at its pace, not a line per event.
 */
describe('the live demo', () => {
  let engine: TestEngine;
  let watcher: NatsConnection;
  let demo: DemoHandle | null = null;

  beforeAll(async () => {
    // One minute of runway before a start (the default is 10), so that the test's small credit starts the showcase's GPUs.
    engine = await startEngine({ TICK_INTERVAL_MS: '200', MIN_RUNWAY_MINUTES: '1', OUTBOX_SWEEP_INTERVAL_MS: '200', EXPIRY_SWEEP_INTERVAL_MS: '500' });
    watcher = await connectAs('operator');
  });

  afterAll(async () => {
    await demo?.stop();
    await engine.dispose(watcher);
    await watcher.close();
  });

  it('shows plan, voucher and top-up credit in three currencies, a low balance, a depletion and a top-up again and a voucher expiring; keeps creating resources; prints a summary at its pace', async () => {
    const prefix = `demo${randomBytes(3).toString('hex')}`;
    const showcase = `${prefix}-0`;
    const seen: Seen[] = [];
    watcher.subscribe(`${engine.config.subjectPrefix}.events.>`, {
      callback: (_e, m) => {
        const body = JSON.parse(Buffer.from(m.data).toString('utf8'));
        if (String(body.orgId).startsWith(`${prefix}-`)) seen.push({ type: body.type, orgId: body.orgId, body });
      },
    });
    const writes: { atMs: number; text: string }[] = [];
    const startedMs = Date.now();
    demo = await runDemo(
      {
        ...process.env,
        SUBJECT_PREFIX: engine.config.subjectPrefix,
        LIFECYCLE_SUBJECT_PREFIX: engine.config.lifecycleSubjectPrefix,
        SIM_ORG_PREFIX: prefix,
        SIM_STEP_MS: '250',
        DEMO_SUMMARY_MS: String(SUMMARY_MS),
        DEMO_CREDIT_USD: '0.16',
        DEMO_VOUCHER_LIFETIME_MS: '6000',
        DEMO_DEPLETED_PAUSE_MS: '1500',
        DEMO_REPLACE_EVERY_MS: '2000',
        DEMO_CYCLE_MAX_MS: '40000',
      },
      (text) => {
        writes.push({ atMs: Date.now(), text });
        // TEST_LOGS=1 shows the demo's console as it runs.
        if (process.env.TEST_LOGS) process.stdout.write(text);
      },
    );

    const ofShowcase = (type: string) => seen.filter((s) => s.orgId === showcase && s.type === type);
    const topups = () => sql<{ created_at: Date }>(`select created_at from ledger_entries where org_id = $1 and type = 'topup' order by seq`, [showcase]);
    // Three cycles: two depletions, each followed by a top-up (the second and third cycles' own).
    while ((ofShowcase('depleted').length < 2 || (await topups()).length < 3) && Date.now() - startedMs < RUN_DEADLINE_MS) await sleep(500);
    await sleep(2000);
    await demo.stop();
    demo = null;
    const stoppedMs = Date.now();

    // Organizations billed in three currencies, each holding plan, voucher and top-up credit.
    const wallets = await sql<{ org_id: string; currency: string }>(`select org_id, currency from wallets where org_id like $1 order by org_id`, [`${prefix}-%`]);
    expect(wallets.map((w) => [w.org_id, w.currency])).toEqual([
      [`${prefix}-0`, 'USD'],
      [`${prefix}-1`, 'VND'],
      [`${prefix}-2`, 'JPY'],
    ]);
    const kinds = await sql<{ org_id: string; kind: string; service: string | null }>(`select distinct org_id, kind, service from grants where org_id like $1`, [`${prefix}-%`]);
    for (const w of wallets) expect(kinds.filter((k) => k.org_id === w.org_id).map((k) => k.kind).sort()).toEqual(expect.arrayContaining(['plan', 'topup', 'voucher']));
    // The showcase held all three at once, as its balance showed.
    const positive = (v: string) => new Decimal(v).greaterThan(0);
    expect(ofShowcase('balance').some(({ body: b }) => positive(b.plan) && positive(b.voucher) && positive(b.topup))).toBe(true);
    // Its vouchers are for one product only.
    expect(kinds.filter((k) => k.org_id === showcase && k.kind === 'voucher').map((k) => k.service)).toEqual(['ai-notebook']);

    // Below its low-balance threshold, then depleted, then topped up again.
    const [firstDepleted, secondDepleted] = ofShowcase('depleted').map((s) => new Date(s.body.at).getTime());
    expect(secondDepleted).toBeDefined();
    const lowBalance = ofShowcase('low_balance').map((s) => new Date(s.body.at).getTime());
    expect(lowBalance.some((at) => at < firstDepleted)).toBe(true);
    const topupTimes = (await topups()).map((t) => new Date(t.created_at).getTime());
    expect(topupTimes.some((at) => at > firstDepleted)).toBe(true);

    // A voucher expired (on time, with credit left), announced by the engine.
    const expired = ofShowcase('grant_expired');
    const vouchers = await sql<{ id: string; expires_at: Date }>(`select id, expires_at from grants where org_id = $1 and kind = 'voucher'`, [showcase]);
    const expiredVoucher = expired.find((e) => vouchers.some((v) => v.id === e.body.grantId));
    expect(expiredVoucher).toBeDefined();
    expect(positive(expiredVoucher!.body.amount)).toBe(true);

    // It keeps going: fresh resources still appear after the first cycle, and after the second.
    const resources = await sql<{ org_id: string; events: { status: string; at: string }[] }>(`select org_id, events from resources where org_id like $1`, [`${prefix}-%`]);
    const createdAt = resources.map((r) => Math.min(...r.events.map((e) => new Date(e.at).getTime())));
    expect(createdAt.filter((at) => at > firstDepleted).length).toBeGreaterThan(0);
    expect(createdAt.filter((at) => at > secondDepleted).length).toBeGreaterThan(0);
    // And it deleted what it ran when it stopped.
    await sleep(1000);
    const live = await sql(`select resource_id from resources where org_id like $1 and not deleted`, [`${prefix}-%`]);
    expect(live).toEqual([]);

    // The console: one opening line, then a summary each second, a line per organization (and one for the demo at most).
    const [intro, ...summaries] = writes;
    expect(intro.text).toMatch(/^\[demo\] \S+-0 \(USD\), each cycle: plan credit, a voucher/);
    expect(intro.text.trimEnd().split('\n')).toHaveLength(2);
    const elapsedSummaries = (stoppedMs - startedMs) / SUMMARY_MS;
    expect(summaries.length).toBeGreaterThanOrEqual(Math.floor(elapsedSummaries * 0.5));
    expect(summaries.length).toBeLessThanOrEqual(Math.ceil(elapsedSummaries) + 1);
    const gaps = summaries.slice(1).map((s, i) => s.atMs - summaries[i].atMs);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(SUMMARY_MS * 0.5);
    const lines = summaries.flatMap((s) => s.text.trimEnd().split('\n'));
    for (const s of summaries) expect(s.text.trimEnd().split('\n').length).toBeLessThanOrEqual(wallets.length + 1);
    for (const line of lines) expect(line).toMatch(/^\[demo \d+:\d\d\] \S/);
    // Far fewer lines than the events it summarizes.
    expect(lines.length * 3).toBeLessThan(seen.length);
    const showcaseLines = lines.filter((l) => l.includes(` ${showcase} `)).join('\n');
    for (const news of ['low balance: below ', 'DEPLETED', 'control plane stopped', 'topped up', 'plan +', 'voucher +', 'voucher expired', 'started']) expect(showcaseLines).toContain(news);
  }, 120_000);
});
