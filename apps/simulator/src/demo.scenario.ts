import { readEvent, StopCommand, Subjects } from '@billing/contracts';
import { NatsConnection, Subscription } from 'nats';
import { Decimal, isCurrency, toDisplay } from '@billing/domain';
import { ControlPlaneSimulator, SimResource, StepOutcome } from './control-plane.simulator';
import { DEMO_VOUCHER_SERVICE, DemoCredits, SHARE } from './demo-credits';
import { DemoOrg, DemoRequests, within } from './demo-requests';
import { DemoSummary, OrgRow } from './demo-summary';
import { DEMO_CURRENCIES, DemoSettings, inCurrency } from './demo.settings';

/** How long the demo's end may take to delete what it runs (npm start gives its children little time). */
const STOP_BUDGET_MS = 3000;


/**
 * The live demo's story, in cycles that go on for ever. The showcase organization (`<prefix>-0`,
 * the dashboard's) gets plan credit, a voucher for ai-notebook that expires a little later with
 * credit left, and a top-up; its GPU nodes and notebook start after `authorize` (each holding its
 * hold period's cost) and burn through it, cross its low-balance threshold, and once what it has
 * available reaches zero (with `npm start`'s one-minute holds: when the voucher expires with credit
 * left, or at the next hold period) the engine sends a stop command per running GPU, which the
 * control plane obeys (the enforcement ladder's stop step); after a pause the next cycle tops it up
 * again and starts them. A depletion without stop commands (a large STOP_OVERDRAFT) ends the cycle
 * too, the control plane stopping what runs. The other organizations, billed in other currencies,
 * get plan credit and vouchers each cycle and a top-up when they run low, while their resources
 * start, stop and are replaced by fresh ones at random; their GPUs obey stop commands as well.
 *
 * Every credit is idempotent: its key names the run (`runTag`) and the cycle, and a retry sends
 * the same body. Plan credit is a `grant` of kind plan valid for DEMO_PLAN_PERIOD_MS, the credit
 * a plan period grants: a plan subscription (`billing.admin.plans.subscribe`) has no idempotency
 * key, and it would go on granting while the demo is off.
 */
export class DemoScenario {
  /** Names this run's keys, voucher codes and resources (base 36 of the start time). */
  readonly runTag = Date.now().toString(36);
  readonly orgs: DemoOrg[] = [];
  /** The cycle under way (1 is the first). */
  cycle = 0;
  private readonly showcaseSim: ControlPlaneSimulator;
  private readonly othersSim: ControlPlaneSimulator | null;
  private readonly summary: DemoSummary;
  private readonly startedAtMs = Date.now();
  private readonly timers: NodeJS.Timeout[] = [];
  private summaryTimer: NodeJS.Timeout | null = null;
  private readonly requests: DemoRequests;
  private readonly credits: DemoCredits;
  private readonly lastReplacedMs = new Map<string, number>();
  private readonly subscriptions: Subscription[] = [];
  private readonly eventSubjects: Subjects;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Waiting for the showcase to deplete (its resources started). */
  private armed = false;
  /** How this cycle of the showcase ended: its GPUs stopped on the engine's command, or depleted. */
  private cycleEnd: 'stopped' | 'depleted' | null = null;
  private stopped = false;
  private stepping = false;

  constructor(
    private readonly nc: NatsConnection,
    operator: NatsConnection,
    private readonly settings: DemoSettings,
    private readonly write: (text: string) => void,
  ) {
    this.eventSubjects = new Subjects(settings.walletPrefix);
    const common = { walletPrefix: settings.walletPrefix, lifecyclePrefix: settings.lifecyclePrefix, orgPrefix: settings.orgPrefix, currency: 'USD' as const, topup: '0', resourceIdTag: this.runTag };
    // The showcase: a notebook (the voucher's service) and a cluster of GPU nodes.
    this.showcaseSim = new ControlPlaneSimulator(
      nc,
      { ...common, orgs: 1, resourcesPerOrg: settings.showcaseNodes + 1, skus: ['h100-1x'], services: [DEMO_VOUCHER_SERVICE, ...Array<string>(settings.showcaseNodes).fill('gpu-container')] },
      operator,
    );
    this.othersSim =
      settings.orgs > 1
        ? new ControlPlaneSimulator(nc, { ...common, orgs: settings.orgs - 1, firstOrg: 1, resourcesPerOrg: settings.resourcesPerOrg, skus: ['h100-1x', 'a100-1x', 'l40s-1x'], services: ['gpu-container', DEMO_VOUCHER_SERVICE, 'vm'] }, operator)
        : null;
    this.orgs.push({ id: `${settings.orgPrefix}-0`, sim: this.showcaseSim, showcase: true, currency: DEMO_CURRENCIES[0] });
    for (let i = 1; i < settings.orgs; i++) this.orgs.push({ id: `${settings.orgPrefix}-${i}`, sim: this.othersSim!, showcase: false, currency: DEMO_CURRENCIES[i % DEMO_CURRENCIES.length] });
    this.summary = new DemoSummary(this.startedAtMs);
    this.requests = new DemoRequests(nc, operator, () => this.stopped);
    this.credits = new DemoCredits(this.requests, settings, this.summary, this.runTag);
  }

  get showcase(): DemoOrg {
    return this.orgs[0];
  }

  /** Takes the organizations over, then runs the cycles, the control plane's steps and the summaries until `stop`. */
  async start(): Promise<void> {
    await Promise.all(this.orgs.map((org) => this.prepare(org)));
    this.subscriptions.push(this.nc.subscribe(`${this.settings.walletPrefix}.events.*.*`, { callback: (_e, msg) => this.onEvent(msg.subject, msg.data) }));
    for (const sim of [this.showcaseSim, this.othersSim]) if (sim) this.subscriptions.push(sim.obeyStops((r, command) => this.engineStopped(r, command)));
    const s = this.settings;
    const others = this.orgs.slice(1).map((o) => `${o.id} (${o.currency})`);
    this.write(
      `[demo] ${this.showcase.id} (${this.showcase.currency}), each cycle: plan credit, a voucher for ${DEMO_VOUCHER_SERVICE} (${s.voucherLifetimeMs / 1000} s) and a top-up, ` +
        `burnt by ${s.showcaseNodes + 1} GPUs below its low-balance threshold until nothing is available and the engine stops them, topped up again ${s.depletedPauseMs / 1000} s later\n` +
        `[demo] ${others.length ? `${others.join(', ')}: ${s.resourcesPerOrg} resources each, started, stopped and replaced at random; ` : ''}a summary every ${s.summaryMs / 1000} s\n`,
    );
    this.loop = this.runCycles();
    if (this.othersSim) this.timers.push(setInterval(() => void this.churn(), s.stepMs));
    this.summarizeLater();
  }

  /** Stops the cycles and deletes every resource the demo runs (bounded: an engine away does not hold the demo up). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.summaryTimer) clearTimeout(this.summaryTimer);
    this.wake?.();
    const deleteAll = Promise.all([this.showcaseSim.deleteAll(), this.othersSim?.deleteAll()]).catch(() => undefined);
    await within(Promise.all([deleteAll, this.loop]), STOP_BUDGET_MS);
    for (const sub of this.subscriptions) sub.unsubscribe();
  }

  /** The billing currency (a wallet's first credit fixed it for good), leftovers of an earlier run deleted, the threshold set. */
  private async prepare(org: DemoOrg): Promise<void> {
    const balance = await this.requests.ask(org, 'balance', {}, false);
    if (balance.ok && isCurrency(balance.balance.currency)) org.currency = balance.balance.currency;
    const listed = await this.requests.ask(org, 'resources', {}, false);
    const leftovers = listed.ok ? (listed.resources as (SimResource & { status: string })[]).filter((r) => r.status !== 'DELETED') : [];
    // An earlier run stopped without deleting (killed): nothing of it goes on being billed.
    await Promise.all(leftovers.map((r) => org.sim.transition({ orgId: org.id, resourceId: r.resourceId, workspaceId: r.workspaceId, service: r.service, sku: r.sku, storageGb: r.storageGb, status: 'NONE' }, 'DELETED')));
    if (leftovers.length) this.summary.note(org.id, `${leftovers.length} resources of an earlier run deleted`);
    const threshold = inCurrency(this.settings.creditUsd.times(SHARE.lowBalance), org.currency);
    const alerts = await this.requests.ask(org, 'alerts.set', { lowBalance: [threshold.toFixed()] }, true);
    if (!alerts.ok) this.summary.note(org.id, `low-balance threshold not set: ${alerts.error?.code}`);
  }

  private async runCycles(): Promise<void> {
    while (!this.stopped) {
      this.cycle++;
      this.cycleEnd = null;
      try {
        await this.beginCycle(this.cycle, Date.now());
      } catch (error) {
        this.summary.note('', `cycle ${this.cycle}: ${String((error as Error)?.message ?? error)}`);
      }
      if (this.stopped) return;
      this.armed = true;
      if (!this.cycleEnd) await this.pause(this.settings.cycleMaxMs);
      this.armed = false;
      if (this.stopped) return;
      // Stopped on the engine's commands: the control plane has obeyed them (the rest of one batch's commands come with the first).
      if (this.cycleEnd === 'depleted') {
        const stopped = await this.showcaseSim.stopRunning(this.showcase.id).catch(() => 0);
        this.summary.note(this.showcase.id, `control plane stopped ${stopped}`);
      } else if (!this.cycleEnd) {
        this.summary.note(this.showcase.id, `not stopped within ${this.settings.cycleMaxMs / 1000} s`);
      }
      await this.pause(this.settings.depletedPauseMs);
    }
  }

  /** The cycle's credits for every organization, then the showcase's resources started. */
  private async beginCycle(n: number, atMs: number): Promise<void> {
    const key = `demo-${this.runTag}-c${n}`;
    const s = this.settings;
    const expiresAt = new Date(atMs + s.voucherLifetimeMs).toISOString();
    const planExpiresAt = new Date(atMs + s.planPeriodMs).toISOString();
    const codes = await this.credits.makeVoucherCodes(n, this.orgs, expiresAt, this.showcaseSim);
    if (this.stopped) return;
    await this.credits.creditShowcase(this.showcase, key, codes.get(this.showcase.currency), planExpiresAt);
    if (this.stopped) return;
    await this.startShowcase();
    this.armed = true;
    await Promise.all(this.orgs.slice(1).map((org) => this.credits.creditOther(org, key, codes.get(org.currency), planExpiresAt)));
  }

  /** The showcase's resources start (one stopped node replaced by a fresh one now and then), each after `authorize`. */
  private async startShowcase(): Promise<void> {
    const org = this.showcase;
    const node = this.showcaseSim.resources.find((r) => r.status === 'STOPPED' && r.service !== DEMO_VOUCHER_SERVICE);
    if (node && this.replaceDue(org.id)) {
      await this.showcaseSim.replace(node);
      this.summary.count(org.id, 'replaced');
    }
    const idle = this.showcaseSim.resources.filter((r) => r.status === 'NONE' || r.status === 'STOPPED');
    const outcomes = await Promise.all(idle.map((r) => this.showcaseSim.start(r).catch((e) => ({ resource: r, action: 'refused' as const, reason: String(e) }))));
    for (const o of outcomes) this.counted(o);
  }

  /** One step of the other organizations' control plane. */
  private async churn(): Promise<void> {
    if (this.stepping || this.stopped || !this.othersSim) return;
    this.stepping = true;
    try {
      const outcome = await this.othersSim.step(Math.random, () => true, (r) => this.replaceDue(r.orgId));
      if (outcome) this.counted(outcome);
    } catch (error) {
      this.summary.note('', `control plane: ${String((error as Error)?.message ?? error)}`);
    } finally {
      this.stepping = false;
    }
  }

  private replaceDue(orgId: string): boolean {
    const now = Date.now();
    if (now - (this.lastReplacedMs.get(orgId) ?? this.startedAtMs) < this.settings.replaceEveryMs) return false;
    this.lastReplacedMs.set(orgId, now);
    return true;
  }

  private counted(o: StepOutcome): void {
    this.summary.count(o.resource.orgId, o.action);
    if (o.action === 'refused' && o.reason) this.summary.note(o.resource.orgId, `refused: ${o.reason.replace(/ \(.*$/, '')}`);
  }

  private onEvent(subject: string, data: Uint8Array): void {
    const read = readEvent(this.eventSubjects, subject, data);
    if (read.kind !== 'event') return;
    const e = read.event;
    const org = this.orgs.find((o) => o.id === e.orgId);
    if (!org) return;
    switch (e.type) {
      case 'low_balance':
        this.summary.note(org.id, `low balance: below ${isCurrency(e.currency) ? toDisplay(new Decimal(e.threshold), e.currency) : e.threshold}`);
        break;
      case 'depleted':
        this.summary.note(org.id, 'DEPLETED');
        if (org.showcase) this.showcaseDepleted();
        // The others' control plane stops what a depleted organization runs at once; the showcase's waits for its cycle.
        else void org.sim.stopRunning(org.id).then((n) => n && this.summary.note(org.id, `control plane stopped ${n}`), () => undefined);
        break;
      case 'grant_expired': {
        const kind = (e.grantId && this.credits.grantKinds.get(e.grantId)) || (e.service ? 'voucher' : 'credit');
        const left = isCurrency(e.currency) ? toDisplay(new Decimal(e.amount), e.currency) : e.amount;
        this.summary.note(org.id, `${kind} expired, ${left} unused`);
        break;
      }
      case 'lifecycle_rejected':
        this.summary.note(org.id, `lifecycle message rejected: ${e.code}`);
        break;
    }
  }

  private showcaseDepleted(): void {
    if (!this.armed || this.cycleEnd) return;
    this.cycleEnd = 'depleted';
    this.wake?.();
  }

  /**
   * The control plane stopped `r` on the engine's command. A showcase GPU stopped ends its cycle
   * (no `armed` needed: a command obeyed stopped a GPU running now, and one of the last cycle's
   * that comes late finds its GPU stopped and stops nothing).
   */
  private engineStopped(r: SimResource, command: StopCommand): void {
    this.summary.engineStopped(r.orgId, command.reason);
    if (r.orgId !== this.showcase.id || this.cycleEnd) return;
    this.cycleEnd = 'stopped';
    this.wake?.();
  }

  /** The next summary `summaryMs` after this one is printed: however long a summary takes to gather, they never bunch up. */
  private summarizeLater(): void {
    if (this.stopped) return;
    this.summaryTimer = setTimeout(() => void this.printSummary().finally(() => this.summarizeLater()), this.settings.summaryMs);
  }

  private async printSummary(): Promise<void> {
    if (this.stopped) return;
    const rows: OrgRow[] = await Promise.all(
      this.orgs.map(async (org) => {
        const reply = await within(this.requests.ask(org, 'balance', {}, false), Math.max(1000, this.settings.summaryMs - 200));
        const running = org.sim.resources.filter((r) => r.orgId === org.id && r.status === 'RUNNING').length;
        return { orgId: org.id, balance: reply?.ok ? reply.balance : null, running };
      }),
    );
    // A depletion whose event this connection missed (a reconnect) is seen in the balance.
    const showcase = rows[0];
    if (this.armed && showcase.balance && new Decimal(showcase.balance.exact.total).lessThanOrEqualTo(0) && showcase.running > 0) this.showcaseDepleted();
    if (!this.stopped) this.write(`${this.summary.lines(rows, Date.now()).join('\n')}\n`);
  }

  /** Waits `ms`, or less when `stop`, a stop command obeyed or a depletion wakes the loop. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
