import { canPayFor, Grant } from './grant';
import { Decimal, ZERO } from './money';

/** One grant's share of a ledger entry; negative draws from the grant, positive adds to it. */
export interface SplitPart {
  readonly grantId: string;
  readonly amount: Decimal;
}

const KIND_RANK = { plan: 0, voucher: 1, topup: 2 } as const;
const NEVER = Number.POSITIVE_INFINITY;

function expiryMs(grant: Grant): number {
  return grant.expiresAt === null ? NEVER : grant.expiresAt.getTime();
}

/**
 * DESIGN.md section 2: plan grants by earliest expiry; then vouchers usable for the service by
 * earliest expiry, a scoped voucher before an unscoped one on ties, then oldest; then top-up,
 * oldest first.
 */
export function compareConsumptionOrder(a: Grant, b: Grant): number {
  const byKind = KIND_RANK[a.kind] - KIND_RANK[b.kind];
  if (byKind !== 0) return byKind;
  if (a.kind !== 'topup') {
    const ea = expiryMs(a);
    const eb = expiryMs(b);
    if (ea !== eb) return ea < eb ? -1 : 1;
    if (a.kind === 'voucher') {
      const scopedA = a.service !== null ? 0 : 1;
      const scopedB = b.service !== null ? 0 : 1;
      if (scopedA !== scopedB) return scopedA - scopedB;
    }
  }
  const ca = a.createdAt.getTime();
  const cb = b.createdAt.getTime();
  if (ca !== cb) return ca - cb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface Allocation {
  /** Draws from existing grants, in consumption order (amounts negative). */
  readonly parts: SplitPart[];
  /** What no grant could pay: charged to top-up as debt. */
  readonly shortfall: Decimal;
}

/** Splits a charge of `amount` (positive) for `service`, usage ending at `usageEndsAt`, across the grants. */
export function allocate(grants: readonly Grant[], amount: Decimal, service: string, usageEndsAt: Date): Allocation {
  const eligible = grants
    .filter((g) => g.remaining.greaterThan(ZERO) && canPayFor(g, service, usageEndsAt))
    .sort(compareConsumptionOrder);
  const { taken, left } = drain(eligible, amount, (g) => g.remaining);
  return { parts: taken.map((t) => ({ grantId: t.from.id, amount: t.amount.negated() })), shortfall: left };
}

/**
 * The one ordered drain of the engine: takes `amount` (positive) from the sources in the order
 * given, from each as much as it has (`available`, positive) until nothing is left. A charge
 * drains grants in consumption order, a reversal drains top-ups, a meter's give-back drains what
 * each grant paid, latest in consumption order first. `left` is what no source could give.
 */
export function drain<T>(sources: readonly T[], amount: Decimal, available: (source: T) => Decimal): { taken: { from: T; amount: Decimal }[]; left: Decimal } {
  const taken: { from: T; amount: Decimal }[] = [];
  let left = amount;
  for (const from of sources) {
    if (left.isZero()) break;
    const take = Decimal.min(available(from), left);
    taken.push({ from, amount: take });
    left = left.minus(take);
  }
  return { taken, left };
}
