import { Currency } from './currency';
import { Decimal } from './money';

export type GrantKind = 'plan' | 'voucher' | 'topup';
export const GRANT_KINDS: readonly GrantKind[] = ['plan', 'voucher', 'topup'];

/** A bucket of credit. Only top-up grants may go negative (debt). */
export interface Grant {
  readonly id: string;
  readonly kind: GrantKind;
  readonly amount: Decimal;
  readonly remaining: Decimal;
  readonly currency: Currency;
  /** Only this service may draw from the grant; null means any service. */
  readonly service: string | null;
  /** The grant pays only for usage that ends before this instant; null means never expires. */
  readonly expiresAt: Date | null;
  readonly createdAt: Date;
  readonly sourceRef: string | null;
  /** When the owner was told this grant expires soon with credit left (`grant_expiring`), if yet. */
  readonly expiryNoticeAt?: Date | null;
  /**
   * Plan credit that rolls over: at expiry up to `cap` of what is left moves to a new plan grant
   * valid for one more period of `periodMs`; the rest is written off.
   */
  readonly rollover?: { readonly cap: Decimal; readonly periodMs: number } | null;
}

export function isExpiredAt(grant: Grant, at: Date): boolean {
  return grant.expiresAt !== null && grant.expiresAt.getTime() <= at.getTime();
}

/** Whether the grant may pay for usage of `service` ending at `usageEndsAt`. */
export function canPayFor(grant: Grant, service: string, usageEndsAt: Date): boolean {
  if (isExpiredAt(grant, usageEndsAt)) return false;
  if (grant.kind === 'topup') return true;
  return grant.service === null || grant.service === service;
}

/**
 * The grant created last; on equal times the greater id, whatever the order of the list (the
 * tie rule of consumption order, and of the query that loads a wallet's newest top-up:
 * `order by created_at desc, id desc` in `WalletRepository.load`).
 */
export function newestGrant(grants: readonly Grant[]): Grant | undefined {
  let best: Grant | undefined;
  for (const g of grants) {
    const byTime = best ? g.createdAt.getTime() - best.createdAt.getTime() : 1;
    if (!best || byTime > 0 || (byTime === 0 && g.id > best.id)) best = g;
  }
  return best;
}

/** The top-up grant in debt (negative), if any: the engine keeps debt on one top-up, which takes new debt and which the next top-up pays first. */
export function topupInDebt(grants: readonly Grant[]): Grant | undefined {
  return grants.find((g) => g.kind === 'topup' && g.remaining.isNegative());
}
