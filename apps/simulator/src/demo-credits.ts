/** The demo's credits each cycle: voucher codes, plan credit, vouchers redeemed and top-ups. */
import { Currency, Decimal, minorUnit, minorUnits, toDisplay } from '@billing/domain';
import { ControlPlaneSimulator } from './control-plane.simulator';
import { DemoSummary } from './demo-summary';
import { DemoSettings, inCurrency } from './demo.settings';
import { DemoOrg, DemoRequests } from './demo-requests';

/** The service the cycle's vouchers are for (a product-scoped voucher: GPU containers cannot spend it). */
export const DEMO_VOUCHER_SERVICE = 'ai-notebook';

/** Shares of the showcase's credit per cycle (of DemoSettings.creditUsd). */
export const SHARE = {
  plan: new Decimal(3).dividedBy(8),
  voucher: new Decimal(1).dividedBy(4),
  /** The low-balance threshold of every organization, and the level below which the others are topped up. */
  lowBalance: new Decimal(5).dividedBy(8),
  otherPlan: new Decimal(1).dividedBy(16),
  otherTopup: new Decimal(5).dividedBy(4),
} as const;

export type CreditKind = 'plan credit' | 'voucher' | 'top-up';
export interface DemoVoucher {
  readonly code: string;
  readonly amount: Decimal;
}

export class DemoCredits {
  /** Which grants are plan credit and which vouchers (from the replies), to name them when they expire. */
  readonly grantKinds = new Map<string, CreditKind>();

  constructor(
    private readonly requests: DemoRequests,
    private readonly settings: DemoSettings,
    private readonly summary: DemoSummary,
    /** Names this run's keys and voucher codes. */
    private readonly runTag: string,
  ) {}

  /** One voucher code per currency and cycle, for ai-notebook only, redeemed by each organization billed in it. */
  async makeVoucherCodes(n: number, orgs: readonly DemoOrg[], expiresAt: string, admin: ControlPlaneSimulator): Promise<Map<Currency, DemoVoucher>> {
    const s = this.settings;
    const codes = new Map<Currency, DemoVoucher>();
    for (const currency of new Set(orgs.map((o) => o.currency))) {
      const code = `DEMO-${this.runTag}-C${n}-${currency}`;
      const amount = inCurrency(s.creditUsd.times(SHARE.voucher), currency);
      const body = { code, amount: amount.toFixed(), currency, service: DEMO_VOUCHER_SERVICE, expiresAt, maxRedemptions: orgs.filter((o) => o.currency === currency).length };
      const made = await this.requests.retry(() => admin.admin('vouchers.create', body));
      // The same code again (a retry whose first answer was lost) is the code made the first time.
      if (made.ok || made.error?.code === 'VOUCHER_CODE_EXISTS') codes.set(currency, { code, amount });
      else this.summary.note('', `voucher code ${code} not made: ${made.error?.code}`);
    }
    return codes;
  }

  /** Plan credit, the voucher and a top-up that brings the total to the cycle's credit (debt from the last cycle paid first). */
  async creditShowcase(org: DemoOrg, key: string, voucher: DemoVoucher | undefined, planExpiresAt: string): Promise<void> {
    const target = inCurrency(this.settings.creditUsd, org.currency);
    const plan = inCurrency(this.settings.creditUsd.times(SHARE.plan), org.currency);
    const before = await this.requests.ask(org, 'balance', {}, false);
    const total = before.ok ? new Decimal(before.balance.exact.total) : new Decimal(0);
    const topup = Decimal.max(minorUnit(org.currency), target.minus(plan).minus(voucher?.amount ?? 0).minus(total)).toDecimalPlaces(minorUnits(org.currency), Decimal.ROUND_UP);
    await this.topup(org, `${key}-topup`, topup);
    await this.planCredit(org, `${key}-plan`, plan, planExpiresAt);
    if (voucher) await this.redeem(org, `${key}-voucher`, voucher);
  }

  async creditOther(org: DemoOrg, key: string, voucher: DemoVoucher | undefined, planExpiresAt: string): Promise<void> {
    const before = await this.requests.ask(org, 'balance', {}, false);
    const level = inCurrency(this.settings.creditUsd.times(SHARE.lowBalance), org.currency);
    if (!before.ok || new Decimal(before.balance.exact.total).lessThan(level)) {
      await this.topup(org, `${key}-topup`, inCurrency(this.settings.creditUsd.times(SHARE.otherTopup), org.currency));
    }
    await this.planCredit(org, `${key}-plan`, inCurrency(this.settings.creditUsd.times(SHARE.otherPlan), org.currency), planExpiresAt);
    if (voucher) await this.redeem(org, `${key}-voucher`, voucher);
  }

  private async topup(org: DemoOrg, idempotencyKey: string, amount: Decimal): Promise<void> {
    const r = await this.requests.ask(org, 'topup', { idempotencyKey, amount: amount.toFixed(), currency: org.currency, provider: 'demo', reference: idempotencyKey }, true);
    this.remember(r, 'top-up');
    this.summary.note(org.id, r.ok ? `topped up ${toDisplay(amount, org.currency)}` : `top-up refused: ${r.error?.code}`);
  }

  private async planCredit(org: DemoOrg, idempotencyKey: string, amount: Decimal, expiresAt: string): Promise<void> {
    const r = await this.requests.ask(org, 'grant', { idempotencyKey, kind: 'plan', amount: amount.toFixed(), currency: org.currency, expiresAt, reference: `demo-plan-${this.runTag}` }, true);
    this.remember(r, 'plan credit');
    this.summary.note(org.id, r.ok ? `plan +${toDisplay(amount, org.currency)}` : `plan credit refused: ${r.error?.code}`);
  }

  private async redeem(org: DemoOrg, idempotencyKey: string, voucher: DemoVoucher): Promise<void> {
    const r = await this.requests.ask(org, 'redeem', { idempotencyKey, code: voucher.code }, true);
    this.remember(r, 'voucher');
    const lifetime = Math.round(this.settings.voucherLifetimeMs / 1000);
    this.summary.note(org.id, r.ok ? `voucher +${toDisplay(voucher.amount, org.currency)} for ${DEMO_VOUCHER_SERVICE}, ${lifetime} s` : `voucher refused: ${r.error?.code}`);
  }

  private remember(reply: any, kind: CreditKind): void {
    for (const part of reply?.entry?.split ?? []) if (!String(part.amount).startsWith('-')) this.grantKinds.set(part.grantId, kind);
  }
}
