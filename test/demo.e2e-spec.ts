import { randomBytes } from 'crypto';
import { NatsConnection } from 'nats';
import { Decimal } from '@billing/domain';
import { DemoHandle, runDemo } from '../apps/simulator/src/demo';
import { sql, startEngine, TestEngine } from './support/engine';
import { connectAs } from './support/nats-roles';

/** The demo's pace in this test: a summary a second (the engine ticks every 200 ms). */
const SUMMARY_MS = 1000;
/**
 * The voucher's lifetime, which sets when the engine stops the showcase's GPUs. With `npm start`'s
 * one-minute holds and its 0.80 USD, the 17 GPUs hold about 0.71 and burn 0.71 a minute: the total
 * is below the low-balance threshold (0.50) about 25 s after they start, and the voucher expiring
 * with about 0.20 unused leaves nothing available (apps/simulator/src/demo.settings.ts). A hold
 * period being a minute at least, the first stop cannot come much sooner with the low balance before it.
 */
const VOUCHER_LIFETIME_MS = 30_000;
/** How long the demo may take to run its first cycle down to the stop and start the next on a loaded machine. */
const RUN_DEADLINE_MS = 50_000;
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
    // Holds of one minute, as `npm start` gives the demo's engine (scripts/start.js). One minute of runway
    // before a start (the default is 10), so that every GPU's authorize passes whatever the others hold by then.
    engine = await startEngine({ TICK_INTERVAL_MS: '200', HOLD_MINUTES: '1', MIN_RUNWAY_MINUTES: '1', OUTBOX_SWEEP_INTERVAL_MS: '200', EXPIRY_SWEEP_INTERVAL_MS: '500' });
    watcher = await connectAs('operator');
  });

  afterAll(async () => {
    await demo?.stop();
    await engine.dispose(watcher);
    await watcher.close();
  });

  it('shows plan, voucher and top-up credit in three currencies, a low balance, a voucher expiring, the engine stopping the GPUs (the control plane obeying) and a top-up again; keeps creating resources; prints a summary at its pace', async () => {
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
        DEMO_VOUCHER_LIFETIME_MS: String(VOUCHER_LIFETIME_MS),
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
    const showcaseRunning = () => demo!.scenario.showcase.sim.resources.filter((r) => r.status === 'RUNNING').length;
    // The first cycle down to the engine's stop, then the second's top-up and its GPUs started again.
    while ((ofShowcase('gpu_stop_requested').length === 0 || (await topups()).length < 2 || showcaseRunning() === 0) && Date.now() - startedMs < RUN_DEADLINE_MS) await sleep(500);
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

    // The ladder: below its low-balance threshold, then nothing available, so the engine sends a stop command per
    // running GPU (several: the GPUs started after authorize despite their holds), and the control plane stops each
    // (its STOPPED after the command); then topped up again.
    const commands = ofShowcase('gpu_stop_requested').map((s) => ({ resourceId: s.body.resourceId as string, atMs: new Date(s.body.at).getTime(), reason: s.body.reason }));
    expect(commands.length).toBeGreaterThan(1);
    expect(new Set(commands.map((c) => c.reason))).toEqual(new Set(['available_exhausted']));
    const firstStop = Math.min(...commands.map((c) => c.atMs));
    const lowBalance = ofShowcase('low_balance').map((s) => new Date(s.body.at).getTime());
    expect(lowBalance.some((at) => at <= firstStop)).toBe(true);
    const lifecycles = await sql<{ resource_id: string; events: { status: string; at: string }[] }>(`select resource_id, events from resources where org_id = $1`, [showcase]);
    for (const c of commands) {
      const stoppedAt = lifecycles.find((r) => r.resource_id === c.resourceId)?.events.filter((e) => e.status === 'STOPPED').map((e) => new Date(e.at).getTime());
      expect(stoppedAt?.some((at) => at >= c.atMs)).toBe(true);
    }
    const topupTimes = (await topups()).map((t) => new Date(t.created_at).getTime());
    expect(topupTimes.some((at) => at > firstStop)).toBe(true);

    // A voucher expired (on time, with credit left), announced by the engine.
    const expired = ofShowcase('grant_expired');
    const vouchers = await sql<{ id: string; expires_at: Date }>(`select id, expires_at from grants where org_id = $1 and kind = 'voucher'`, [showcase]);
    const expiredVoucher = expired.find((e) => vouchers.some((v) => v.id === e.body.grantId));
    expect(expiredVoucher).toBeDefined();
    expect(positive(expiredVoucher!.body.amount)).toBe(true);

    // It keeps going: fresh resources still appear after the first cycle's stop.
    const resources = await sql<{ org_id: string; events: { status: string; at: string }[] }>(`select org_id, events from resources where org_id like $1`, [`${prefix}-%`]);
    const createdAt = resources.map((r) => Math.min(...r.events.map((e) => new Date(e.at).getTime())));
    expect(createdAt.filter((at) => at > firstStop).length).toBeGreaterThan(0);
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
    for (const news of ['low balance: below ', 'engine stopped ', 'GPUs: available exhausted', 'topped up', 'plan +', 'voucher +', 'voucher expired', 'started']) expect(showcaseLines).toContain(news);
  }, 120_000);
});
