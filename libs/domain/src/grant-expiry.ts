/** Expiry of grants: write-off or rollover at expiry, the next instant to wake, expiry notices. */
import { Grant, isExpiredAt } from './grant';
import { LedgerEntry } from './ledger-entry';
import { Decimal, ZERO } from './money';
import { accept } from './wallet-charge';
import { DecisionContext } from './wallet-command';
import { WalletState } from './wallet-state';

/**
 * Writes off what is left on every grant expired at `now`: one `expire` entry per grant and
 * write-off (the wallet's version check, not the key, keeps it from being done twice).
 */
export function expireGrants(state: WalletState, ctx: Omit<DecisionContext, 'requestHash'>): { state: WalletState; entries: LedgerEntry[] } {
  const entries: LedgerEntry[] = [];
  let current = state;
  for (const g of state.grants) {
    if (g.kind === 'topup' || !isExpiredAt(g, ctx.now) || !g.remaining.greaterThan(ZERO)) continue;
    const carried = g.rollover ? Decimal.min(g.remaining, g.rollover.cap) : ZERO;
    if (carried.greaterThan(ZERO) && g.rollover && g.expiresAt) {
      // The carried part moves to a grant of its own for one more period; it does not roll again.
      const successor: Grant = {
        id: ctx.newId(),
        kind: 'plan',
        amount: carried,
        remaining: carried,
        currency: g.currency,
        service: g.service,
        expiresAt: new Date(g.expiresAt.getTime() + g.rollover.periodMs),
        createdAt: ctx.now,
        sourceRef: `rollover:${g.id}`,
        rollover: null,
      };
      // A grant rolls over once: credit given back to it later (a late stop's correction) is written off.
      current = {
        ...current,
        seq: current.seq + 1,
        grants: [...current.grants.map((x) => (x.id === g.id ? { ...x, remaining: x.remaining.minus(carried), rollover: null } : x)), successor],
      };
      entries.push(
        accept(current, { ...ctx, requestHash: '' }, {
          type: 'rollover',
          amount: ZERO,
          split: [{ grantId: g.id, amount: carried.negated() }, { grantId: successor.id, amount: carried }],
          idempotencyKey: `expire:${g.id}:rollover`,
          service: g.service,
          reference: g.id,
        }).entry,
      );
    }
    const writeOff = g.remaining.minus(carried);
    if (!writeOff.greaterThan(ZERO)) continue;
    current = {
      ...current,
      seq: current.seq + 1,
      grants: current.grants.map((x) => (x.id === g.id ? { ...x, remaining: ZERO } : x)),
    };
    entries.push(
      accept(current, { ...ctx, requestHash: '' }, {
        type: 'expire',
        amount: writeOff.negated(),
        split: [{ grantId: g.id, amount: writeOff.negated() }],
        // Keyed by the grant and the entry's place: a grant written off again (credit given back to
        // it after it expired) gets a key of its own.
        idempotencyKey: `expire:${g.id}:${current.seq}`,
        service: g.service,
        reference: g.id,
      }).entry,
    );
  }
  return { state: current, entries };
}

/**
 * The next instant the wallet must act without being asked: a grant with credit left expires,
 * or comes within `noticeMs` of its expiry without its notice sent yet.
 */
export function nextExpiry(state: WalletState, noticeMs = 0): Date | null {
  let next: number | null = null;
  for (const g of state.grants) {
    if (g.kind === 'topup' || g.expiresAt === null || !g.remaining.greaterThan(ZERO)) continue;
    const at = noticeMs > 0 && !g.expiryNoticeAt ? g.expiresAt.getTime() - noticeMs : g.expiresAt.getTime();
    if (next === null || at < next) next = at;
  }
  return next === null ? null : new Date(next);
}

/** Grants that expire within `noticeMs` with credit left and were not announced yet: marked as announced. */
export function expiringNotices(state: WalletState, now: Date, noticeMs: number): { state: WalletState; notices: Grant[] } {
  const due = (g: Grant) =>
    g.kind !== 'topup' && g.expiresAt !== null && !g.expiryNoticeAt && g.remaining.greaterThan(ZERO) &&
    g.expiresAt.getTime() > now.getTime() && g.expiresAt.getTime() - now.getTime() <= noticeMs;
  if (noticeMs <= 0 || !state.grants.some(due)) return { state, notices: [] };
  const notices: Grant[] = [];
  const grants = state.grants.map((g) => {
    if (!due(g)) return g;
    const noticed = { ...g, expiryNoticeAt: now };
    notices.push(noticed);
    return noticed;
  });
  return { state: { ...state, grants }, notices };
}
