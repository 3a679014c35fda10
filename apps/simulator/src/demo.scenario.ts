import { NatsConnection, StringCodec, Subscription } from 'nats';
import { Currency, Decimal, isCurrency, minorUnits, toDisplay } from '@billing/domain';
import { ControlPlaneSimulator, SimResource, StepOutcome } from './control-plane.simulator';
import { DemoSummary, OrgRow } from './demo-summary';
import { DEMO_CURRENCIES, DemoSettings, inCurrency } from './demo.settings';

/** The service the cycle's vouchers are for (a product-scoped voucher: GPU containers cannot spend it). */
export const DEMO_VOUCHER_SERVICE = 'ai-notebook';
/** Attempts at one command (the same body, so the same idempotency key) when the engine is busy or away. */
const COMMAND_ATTEMPTS = 3;
const RETRY_PAUSE_MS = 1000;
/** Refusals after which the same command may succeed. */
const RETRYABLE = new Set(['UNAVAILABLE', 'MAILBOX_FULL', 'INTERNAL', 'CONFLICT', 'TIMEOUT']);
/** How long the demo's end may take to delete what it runs (npm start gives its children little time). */
const STOP_BUDGET_MS = 3000;

interface DemoOrg {
  readonly id: string;
  readonly sim: ControlPlaneSimulator;
  readonly showcase: boolean;
  currency: Currency;
}

/** Shares of the showcase's credit per cycle (of DemoSettings.creditUsd). */
const SHARE = {
  plan: new Decimal(3).dividedBy(8),
  voucher: new Decimal(1).dividedBy(4),
  /** The low-balance threshold of every organization, and the level below which the others are topped up. */
  lowBalance: new Decimal(5).dividedBy(8),
  otherPlan: new Decimal(1).dividedBy(16),
  otherTopup: new Decimal(5).dividedBy(4),
} as const;

const sc = StringCodec();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `work`, or null once `ms` have passed (the timer cleared either way: nothing is left waiting). */
export function within<T>(work: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The live demo's story, in cycles that go on for ever. The showcase organization (`<prefix>-0`,
 * the dashboard's) gets plan credit, a voucher for ai-notebook that expires a little later with
 * credit left, and a top-up; its GPU nodes and notebook burn through it, cross its low-balance
 * threshold and deplete it; the control plane stops what it runs (as a real one would on
 * `depleted`), and after a pause the next cycle tops it up again and starts them. The other
 * organizations, billed in other currencies, get plan credit and vouchers each cycle and a top-up
 * when they run low, while their resources start, stop and are replaced by fresh ones at random.
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
  /** Which grants are plan credit and which vouchers (from the replies), to name them when they expire. */
  private readonly grantKinds = new Map<string, 'plan credit' | 'voucher' | 'top-up'>();
  private readonly lastReplacedMs = new Map<string, number>();
  private subscription: Subscription | null = null;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Waiting for the showcase to deplete (its resources started). */
  private armed = false;
  private depletedThisCycle = false;
  private stopped = false;
  private stepping = false;
  private summarizing = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly operator: NatsConnection,
    private readonly settings: DemoSettings,
    private readonly write: (text: string) => void,
  ) {
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
  }

  get showcase(): DemoOrg {
    return this.orgs[0];
  }

  /** Takes the organizations over, then runs the cycles, the control plane's steps and the summaries until `stop`. */
  async start(): Promise<void> {
    await Promise.all(this.orgs.map((org) => this.prepare(org)));
    this.subscription = this.nc.subscribe(`${this.settings.walletPrefix}.events.*.*`, { callback: (_e, msg) => this.onEvent(msg.data) });
    const s = this.settings;
    const others = this.orgs.slice(1).map((o) => `${o.id} (${o.currency})`);
    this.write(
      `[demo] ${this.showcase.id} (${this.showcase.currency}), each cycle: plan credit, a voucher for ${DEMO_VOUCHER_SERVICE} (${s.voucherLifetimeMs / 1000} s) and a top-up, ` +
        `burnt by ${s.showcaseNodes + 1} GPUs below its low-balance threshold to depletion, topped up again ${s.depletedPauseMs / 1000} s later\n` +
        `[demo] ${others.length ? `${others.join(', ')}: ${s.resourcesPerOrg} resources each, started, stopped and replaced at random; ` : ''}a summary every ${s.summaryMs / 1000} s\n`,
    );
    this.loop = this.runCycles();
    if (this.othersSim) this.timers.push(setInterval(() => void this.churn(), s.stepMs));
    this.timers.push(setInterval(() => void this.printSummary(), s.summaryMs));
  }

  /** Stops the cycles and deletes every resource the demo runs (bounded: an engine away does not hold the demo up). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.wake?.();
    const deleteAll = Promise.all([this.showcaseSim.deleteAll(), this.othersSim?.deleteAll()]).catch(() => undefined);
    await within(Promise.all([deleteAll, this.loop]), STOP_BUDGET_MS);
    this.subscription?.unsubscribe();
  }

  /** The billing currency (a wallet's first credit fixed it for good), leftovers of an earlier run deleted, the threshold set. */
  private async prepare(org: DemoOrg): Promise<void> {
    const balance = await this.ask(org, 'balance', {}, false);
    if (balance.ok && isCurrency(balance.balance.currency)) org.currency = balance.balance.currency;
    const listed = await this.ask(org, 'resources', {}, false);
    const leftovers = listed.ok ? (listed.resources as (SimResource & { status: string })[]).filter((r) => r.status !== 'DELETED') : [];
    // An earlier run stopped without deleting (killed): nothing of it goes on being billed.
    await Promise.all(leftovers.map((r) => org.sim.transition({ orgId: org.id, resourceId: r.resourceId, workspaceId: r.workspaceId, service: r.service, sku: r.sku, storageGb: r.storageGb, status: 'NONE' }, 'DELETED')));
    if (leftovers.length) this.summary.note(org.id, `${leftovers.length} resources of an earlier run deleted`);
    const threshold = inCurrency(this.settings.creditUsd.times(SHARE.lowBalance), org.currency);
    const alerts = await this.ask(org, 'alerts.set', { lowBalance: [threshold.toFixed()] }, true);
    if (!alerts.ok) this.summary.note(org.id, `low-balance threshold not set: ${alerts.error?.code}`);
  }

  private async runCycles(): Promise<void> {
    while (!this.stopped) {
      this.cycle++;
      this.depletedThisCycle = false;
      try {
        await this.beginCycle(this.cycle, Date.now());
      } catch (error) {
        this.summary.note('', `cycle ${this.cycle}: ${String((error as Error)?.message ?? error)}`);
      }
      if (this.stopped) return;
      this.armed = true;
      if (!this.depletedThisCycle) await this.pause(this.settings.cycleMaxMs);
      this.armed = false;
      if (this.stopped) return;
      if (this.depletedThisCycle) {
        const stopped = await this.showcaseSim.stopRunning(this.showcase.id).catch(() => 0);
        this.summary.note(this.showcase.id, `control plane stopped ${stopped}`);
      } else {
        this.summary.note(this.showcase.id, `not depleted within ${this.settings.cycleMaxMs / 1000} s`);
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
    // One voucher code per currency and cycle, for ai-notebook only, redeemed by each organization billed in it.
    const codes = new Map<Currency, { code: string; amount: Decimal }>();
    for (const currency of new Set(this.orgs.map((o) => o.currency))) {
      const code = `DEMO-${this.runTag}-C${n}-${currency}`;
      const amount = inCurrency(s.creditUsd.times(SHARE.voucher), currency);
      const body = { code, amount: amount.toFixed(), currency, service: DEMO_VOUCHER_SERVICE, expiresAt, maxRedemptions: this.orgs.filter((o) => o.currency === currency).length };
      const made = await this.retry(() => this.showcaseSim.admin('vouchers.create', body));
      // The same code again (a retry whose first answer was lost) is the code made the first time.
      if (made.ok || made.error?.code === 'VOUCHER_CODE_EXISTS') codes.set(currency, { code, amount });
      else this.summary.note('', `voucher code ${code} not made: ${made.error?.code}`);
    }
    if (this.stopped) return;
    await this.creditShowcase(key, codes.get(this.showcase.currency), planExpiresAt);
    if (this.stopped) return;
    await this.startShowcase();
    this.armed = true;
    await Promise.all(this.orgs.slice(1).map((org) => this.creditOther(org, key, codes.get(org.currency), planExpiresAt)));
  }

  /** Plan credit, the voucher and a top-up that brings the total to the cycle's credit (debt from the last cycle paid first). */
  private async creditShowcase(key: string, voucher: { code: string; amount: Decimal } | undefined, planExpiresAt: string): Promise<void> {
    const org = this.showcase;
    const target = inCurrency(this.settings.creditUsd, org.currency);
    const plan = inCurrency(this.settings.creditUsd.times(SHARE.plan), org.currency);
    const before = await this.ask(org, 'balance', {}, false);
    const total = before.ok ? new Decimal(before.balance.exact.total) : new Decimal(0);
    const minor = new Decimal(1).dividedBy(new Decimal(10).pow(minorUnits(org.currency)));
    const topup = Decimal.max(minor, target.minus(plan).minus(voucher?.amount ?? 0).minus(total)).toDecimalPlaces(minorUnits(org.currency), Decimal.ROUND_UP);
    await this.topup(org, `${key}-topup`, topup);
    await this.planCredit(org, `${key}-plan`, plan, planExpiresAt);
    if (voucher) await this.redeem(org, `${key}-voucher`, voucher);
  }

  private async creditOther(org: DemoOrg, key: string, voucher: { code: string; amount: Decimal } | undefined, planExpiresAt: string): Promise<void> {
    const before = await this.ask(org, 'balance', {}, false);
    const level = inCurrency(this.settings.creditUsd.times(SHARE.lowBalance), org.currency);
    if (!before.ok || new Decimal(before.balance.exact.total).lessThan(level)) {
      await this.topup(org, `${key}-topup`, inCurrency(this.settings.creditUsd.times(SHARE.otherTopup), org.currency));
    }
    await this.planCredit(org, `${key}-plan`, inCurrency(this.settings.creditUsd.times(SHARE.otherPlan), org.currency), planExpiresAt);
    if (voucher) await this.redeem(org, `${key}-voucher`, voucher);
  }

  private async topup(org: DemoOrg, idempotencyKey: string, amount: Decimal): Promise<void> {
    const r = await this.ask(org, 'topup', { idempotencyKey, amount: amount.toFixed(), currency: org.currency, provider: 'demo', reference: idempotencyKey }, true);
    this.remember(r, 'top-up');
    this.summary.note(org.id, r.ok ? `topped up ${toDisplay(amount, org.currency)}` : `top-up refused: ${r.error?.code}`);
  }

  private async planCredit(org: DemoOrg, idempotencyKey: string, amount: Decimal, expiresAt: string): Promise<void> {
    const r = await this.ask(org, 'grant', { idempotencyKey, kind: 'plan', amount: amount.toFixed(), currency: org.currency, expiresAt, reference: `demo-plan-${this.runTag}` }, true);
    this.remember(r, 'plan credit');
    this.summary.note(org.id, r.ok ? `plan +${toDisplay(amount, org.currency)}` : `plan credit refused: ${r.error?.code}`);
  }

  private async redeem(org: DemoOrg, idempotencyKey: string, voucher: { code: string; amount: Decimal }): Promise<void> {
    const r = await this.ask(org, 'redeem', { idempotencyKey, code: voucher.code }, true);
    this.remember(r, 'voucher');
    const lifetime = Math.round(this.settings.voucherLifetimeMs / 1000);
    this.summary.note(org.id, r.ok ? `voucher +${toDisplay(voucher.amount, org.currency)} for ${DEMO_VOUCHER_SERVICE}, ${lifetime} s` : `voucher refused: ${r.error?.code}`);
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

  private onEvent(data: Uint8Array): void {
    let e: any;
    try {
      e = JSON.parse(sc.decode(data));
    } catch {
      return;
    }
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
        const kind = this.grantKinds.get(e.grantId) ?? (e.service ? 'voucher' : 'credit');
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
    if (!this.armed || this.depletedThisCycle) return;
    this.depletedThisCycle = true;
    this.wake?.();
  }

  private async printSummary(): Promise<void> {
    if (this.summarizing || this.stopped) return;
    this.summarizing = true;
    try {
      const rows: OrgRow[] = await Promise.all(
        this.orgs.map(async (org) => {
          const reply = await within(this.ask(org, 'balance', {}, false), Math.max(1000, this.settings.summaryMs - 200));
          const running = org.sim.resources.filter((r) => r.orgId === org.id && r.status === 'RUNNING').length;
          return { orgId: org.id, balance: reply?.ok ? reply.balance : null, running };
        }),
      );
      // A depletion whose event this connection missed (a reconnect) is seen in the balance.
      const showcase = rows[0];
      if (this.armed && showcase.balance && new Decimal(showcase.balance.exact.total).lessThanOrEqualTo(0) && showcase.running > 0) this.showcaseDepleted();
      if (!this.stopped) this.write(`${this.summary.lines(rows, Date.now()).join('\n')}\n`);
    } finally {
      this.summarizing = false;
    }
  }

  /**
   * A wallet command, `asOperator` for credit and settings (the control plane may not credit);
   * retried with the same body (so the same idempotency key) while the engine is busy or away.
   */
  private async ask(org: DemoOrg, command: string, body: object, asOperator: boolean): Promise<any> {
    return this.retry(() => org.sim.request(org.id, command, body, asOperator ? this.operator : this.nc));
  }

  private async retry(send: () => Promise<any>): Promise<any> {
    let last: any = { ok: false, error: { code: 'TIMEOUT', message: 'no answer' } };
    for (let attempt = 0; attempt < COMMAND_ATTEMPTS && !this.stopped; attempt++) {
      try {
        last = await send();
      } catch (error) {
        last = { ok: false, error: { code: 'TIMEOUT', message: String((error as Error)?.message ?? error) } };
      }
      if (last.ok || !RETRYABLE.has(last.error?.code)) return last;
      await sleep(RETRY_PAUSE_MS);
    }
    return last;
  }

  private remember(reply: any, kind: 'plan credit' | 'voucher' | 'top-up'): void {
    for (const part of reply?.entry?.split ?? []) if (!String(part.amount).startsWith('-')) this.grantKinds.set(part.grantId, kind);
  }

  /** Waits `ms`, or less when `stop` or a depletion wakes the loop. */
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
