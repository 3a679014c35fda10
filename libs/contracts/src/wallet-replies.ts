import { apportionForDisplay, availableBalance, Balance, Currency, Decimal, Grant, LadderSettings, LadderStep, ladderStep, LedgerEntry, runwaySeconds, StorageSuspension, sum, toDisplay, toExact, UsageRow, ZERO } from '@billing/domain';

/**
 * A wallet's balance as sent to its users. `total`, `plan`, `voucher`, `topup` and
 * `burnRatePerHour` are display amounts, rounded to the currency's minor unit; plan + voucher +
 * top-up always add up to the displayed total (see apportionForDisplay). Before the wallet has a
 * currency they are the exact amounts.
 */
export interface BalanceSnapshot {
  readonly orgId: string;
  readonly seq: number;
  readonly currency: Currency | null;
  readonly total: string;
  readonly plan: string;
  readonly voucher: string;
  readonly topup: string;
  readonly burnRatePerHour: string;
  readonly runwaySeconds: number | null;
  /**
   * Held for running GPUs (the rest of each one's current hold period, see `holdAt`), and what is
   * available: the total less what is held (negative when the holds exceed it). Display amounts,
   * apportioned so that available + held is the total shown.
   */
  readonly held: string;
  readonly available: string;
  /** Each voucher with credit left, as its own line: scope and expiry; `display` is `remaining` rounded for display, on its own. */
  readonly vouchers: { readonly grantId: string; readonly remaining: string; readonly display: string; readonly service: string | null; readonly expiresAt: string | null }[];
  /** Each plan grant with credit left (the portal's billing plan page): its period and how much of it may roll over. */
  readonly plans: { readonly grantId: string; readonly remaining: string; readonly display: string; readonly startsAt: string; readonly expiresAt: string | null; readonly rolloverCap: string | null; readonly rolloverCapDisplay: string | null }[];
  /** The low-balance thresholds in force (`alerts.set`), exact, lowest first. */
  readonly lowBalance: readonly string[];
  /**
   * Where the organization stands on the enforcement ladder (`ladderStep`): `runwayMarkSeconds`
   * the lowest `runway_low` mark the runway is below; GPUs are sent stop commands when available
   * is at or below `stopAt` (minus the overdraft); stored data is scheduled for deletion when the
   * total falls to minus `storageDebtLimit`, and deleted at `storageDeletionAt` unless the total is
   * brought back to zero or more first. Exact amounts. Absent where the engine has no settings to say it.
   */
  readonly ladder?: {
    readonly step: LadderStep;
    readonly runwayMarkSeconds: number | null;
    readonly stopAt: string;
    readonly storageDebtLimit: string;
    readonly storageDeletionAt: string | null;
  };
  /** The same amounts unrounded, at the ledger's scale. */
  readonly exact: {
    readonly total: string;
    readonly plan: string;
    readonly voucher: string;
    readonly topup: string;
    readonly burnRatePerHour: string;
    readonly held: string;
    readonly available: string;
  };
  readonly at: string;
}

export interface EntryView {
  readonly id: string;
  readonly seq: number;
  readonly type: string;
  readonly amount: string;
  readonly currency: Currency;
  readonly split: { grantId: string; amount: string }[];
  readonly idempotencyKey: string;
  readonly service: string | null;
  readonly workspaceId: string | null;
  readonly resourceId: string | null;
  readonly description: string | null;
  readonly reference: string | null;
  readonly totalAfter: string;
  readonly at: string;
}

export function entryView(e: LedgerEntry): EntryView {
  return {
    id: e.id,
    seq: e.seq,
    type: e.type,
    amount: toExact(e.amount),
    currency: e.currency,
    split: e.split.map((p) => ({ grantId: p.grantId, amount: toExact(p.amount) })),
    idempotencyKey: e.idempotencyKey,
    service: e.service,
    workspaceId: e.workspaceId,
    resourceId: e.resourceId,
    description: e.description,
    reference: e.reference,
    totalAfter: toExact(e.totalAfter),
    at: e.at.toISOString(),
  };
}

export function balanceSnapshot(args: {
  orgId: string;
  seq: number;
  currency: Currency | null;
  balance: Balance;
  burnRatePerHour: Decimal;
  grants: readonly Grant[];
  at: Date;
  lowBalanceThresholds?: readonly Decimal[];
  /** What the wallet holds for running GPUs (nothing if left out). */
  held?: Decimal;
  /** The organization's ladder settings and any storage countdown: the snapshot says where it stands. */
  ladder?: { settings: LadderSettings; storage: StorageSuspension | null };
}): BalanceSnapshot {
  const { balance, currency, burnRatePerHour } = args;
  const held = args.held ?? ZERO;
  const available = availableBalance(balance.total, held);
  const show = (d: Decimal) => (currency ? toDisplay(d, currency) : toExact(d));
  // The components are apportioned, not rounded one by one, so that what a reader adds up is the total shown.
  const shown = currency
    ? apportionForDisplay([balance.plan, balance.voucher, balance.topup], currency)
    : { total: toExact(balance.total), parts: [balance.plan, balance.voucher, balance.topup].map(toExact) };
  const runway = runwaySeconds(balance.total, burnRatePerHour);
  // Apportioned like the components: available + held read as the total shown.
  const split = currency ? apportionForDisplay([available, held], currency).parts : [toExact(available), toExact(held)];
  return {
    orgId: args.orgId,
    seq: args.seq,
    currency,
    total: shown.total,
    plan: shown.parts[0],
    voucher: shown.parts[1],
    topup: shown.parts[2],
    burnRatePerHour: show(burnRatePerHour),
    runwaySeconds: runway,
    held: split[1],
    available: split[0],
    vouchers: args.grants
      .filter((g) => g.kind === 'voucher' && g.remaining.greaterThan(0))
      .map((g) => ({ grantId: g.id, remaining: toExact(g.remaining), display: show(g.remaining), service: g.service, expiresAt: g.expiresAt?.toISOString() ?? null })),
    plans: args.grants
      .filter((g) => g.kind === 'plan' && g.remaining.greaterThan(0))
      .map((g) => ({
        grantId: g.id,
        remaining: toExact(g.remaining),
        display: show(g.remaining),
        startsAt: g.createdAt.toISOString(),
        expiresAt: g.expiresAt?.toISOString() ?? null,
        rolloverCap: g.rollover ? toExact(g.rollover.cap) : null,
        rolloverCapDisplay: g.rollover ? show(g.rollover.cap) : null,
      })),
    lowBalance: [...(args.lowBalanceThresholds ?? [])].sort((a, b) => a.comparedTo(b)).map(toExact),
    ...(args.ladder ? { ladder: ladderOf(args.ladder.settings, args.ladder.storage, available, runway) } : {}),
    exact: {
      total: toExact(balance.total),
      plan: toExact(balance.plan),
      voucher: toExact(balance.voucher),
      topup: toExact(balance.topup),
      burnRatePerHour: toExact(burnRatePerHour),
      held: toExact(held),
      available: toExact(available),
    },
    at: args.at.toISOString(),
  };
}

function ladderOf(settings: LadderSettings, storage: StorageSuspension | null, available: Decimal, runway: number | null): NonNullable<BalanceSnapshot['ladder']> {
  const { step, runwayMarkSeconds } = ladderStep({ available, runwaySeconds: runway, settings, storage });
  return { step, runwayMarkSeconds, stopAt: toExact(settings.stopOverdraft.negated()), storageDebtLimit: toExact(settings.storageDebtLimit), storageDeletionAt: storage?.deleteAt.toISOString() ?? null };
}

/** GPU-hours are shown with two decimals (they are time, not money, but rounded the same way: half-even). */
export const GPU_HOURS_DISPLAY_PLACES = 2;

/**
 * Usage with display amounts, for pages that must only show strings: each row gains `display`
 * (its amount rounded by the domain's one display rounding), and `workspaces` sums the rows per
 * workspace exactly, then rounds once; `daily` the same per workspace, service and day (the
 * portal's chart and table), `resources` per resource (its cost so far). The rows' fields are
 * kept as they are.
 */
export function usageView<Row extends UsageRow>(rows: readonly Row[], currency: Currency | null) {
  const show = (d: Decimal) => (currency ? toDisplay(d, currency) : toExact(d));
  const byWorkspace = new Map<string | null, { amounts: Decimal[]; gpuHours: Decimal[] }>();
  for (const r of rows) {
    const w = byWorkspace.get(r.workspaceId) ?? { amounts: [], gpuHours: [] };
    w.amounts.push(new Decimal(r.amount));
    w.gpuHours.push(new Decimal(r.gpuHours));
    byWorkspace.set(r.workspaceId, w);
  }
  const sums = (key: (r: Row) => string) => {
    const groups = new Map<string, Row[]>();
    for (const r of rows) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
    return [...groups.values()].map((group) => {
      const amount = sum(group.map((r) => new Decimal(r.amount)));
      return { first: group[0], amount: toExact(amount), display: show(amount), gpuHours: toExact(sum(group.map((r) => new Decimal(r.gpuHours)))) };
    });
  };
  return {
    currency,
    usage: rows.map((r) => ({ ...r, display: show(new Decimal(r.amount)) })),
    daily: sums((r) => JSON.stringify([r.day, r.workspaceId, r.service])).map(({ first, ...s }) => ({ day: first.day, workspaceId: first.workspaceId, service: first.service, ...s })),
    resources: sums((r) => String(r.resourceId)).map(({ first, ...s }) => ({ resourceId: first.resourceId, workspaceId: first.workspaceId, service: first.service, ...s })),
    workspaces: [...byWorkspace].map(([workspaceId, w]) => {
      const amount = sum(w.amounts);
      const gpuHours = sum(w.gpuHours);
      return {
        workspaceId,
        amount: toExact(amount),
        display: show(amount),
        gpuHours: toExact(gpuHours),
        gpuHoursDisplay: gpuHours.toFixed(GPU_HOURS_DISPLAY_PLACES, Decimal.ROUND_HALF_EVEN),
      };
    }),
  };
}
