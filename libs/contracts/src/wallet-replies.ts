import { Balance, Currency, Decimal, Grant, LedgerEntry, toDisplay, toExact } from '@billing/domain';

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
  /** Each voucher with credit left, as its own line: scope and expiry. */
  readonly vouchers: { readonly grantId: string; readonly remaining: string; readonly service: string | null; readonly expiresAt: string | null }[];
  /** The same amounts unrounded, at the ledger's scale. */
  readonly exact: { readonly total: string; readonly plan: string; readonly voucher: string; readonly topup: string; readonly burnRatePerHour: string };
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
}): BalanceSnapshot {
  const { balance, currency, burnRatePerHour } = args;
  const show = (d: Decimal) => (currency ? toDisplay(d, currency) : toExact(d));
  const runwaySeconds =
    burnRatePerHour.isZero() || balance.total.lessThanOrEqualTo(0)
      ? balance.total.lessThanOrEqualTo(0) ? 0 : null
      : balance.total.dividedBy(burnRatePerHour).times(3600).floor().toNumber();
  return {
    orgId: args.orgId,
    seq: args.seq,
    currency,
    total: show(balance.total),
    plan: show(balance.plan),
    voucher: show(balance.voucher),
    topup: show(balance.topup),
    burnRatePerHour: show(burnRatePerHour),
    runwaySeconds,
    vouchers: args.grants
      .filter((g) => g.kind === 'voucher' && g.remaining.greaterThan(0))
      .map((g) => ({ grantId: g.id, remaining: toExact(g.remaining), service: g.service, expiresAt: g.expiresAt?.toISOString() ?? null })),
    exact: {
      total: toExact(balance.total),
      plan: toExact(balance.plan),
      voucher: toExact(balance.voucher),
      topup: toExact(balance.topup),
      burnRatePerHour: toExact(burnRatePerHour),
    },
    at: args.at.toISOString(),
  };
}
