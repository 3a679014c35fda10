/** Deciding a wallet command: top-up, grant, debit, reversal. */
import { drain, SplitPart } from './allocation';
import { Currency, currencyLockRefusal } from './currency';
import { Grant, topupInDebt } from './grant';
import { ZERO } from './money';
import { DomainRefusalCode, Refusal, refusal } from './refusal';
import { accept, applyDeltas, charge, checkChargeCurrency } from './wallet-charge';
import { DebitCommand, Decision, DecisionContext, GrantCommand, ReverseCommand, TopupCommand, WalletCommand } from './wallet-command';
import { WalletState } from './wallet-state';

/** The pure decision: `(state, command, now) -> (state, entry)` or a refusal that changes nothing. */
export function decide(state: WalletState, command: WalletCommand, ctx: DecisionContext): Decision {
  switch (command.type) {
    case 'topup':
      return topup(state, command, ctx);
    case 'grant':
      return grant(state, command, ctx);
    case 'debit':
      return debit(state, command, ctx);
    case 'reverse':
      return reverse(state, command, ctx);
  }
}

/**
 * A reversal draws only on top-up credit (vouchers and plan credits are not the payer's money):
 * first the grant the reversed top-up created, then the other top-ups, and what they cannot
 * cover becomes debt.
 */
function reverse(state: WalletState, cmd: ReverseCommand, ctx: DecisionContext): Decision {
  const wrong = checkChargeCurrency(state, cmd.currency);
  if (wrong) return wrong;
  const topups = state.grants
    .filter((g) => g.kind === 'topup' && g.remaining.greaterThan(ZERO))
    .sort((a, b) => (a.sourceRef === cmd.reference ? -1 : b.sourceRef === cmd.reference ? 1 : a.createdAt.getTime() - b.createdAt.getTime()));
  const { taken, left } = drain(topups, cmd.amount, (g) => g.remaining);
  const split: SplitPart[] = taken.map((t) => ({ grantId: t.from.id, amount: t.amount.negated() }));
  let grants = applyDeltas(state.grants, new Map(split.map((p) => [p.grantId, p.amount])));
  if (!left.isZero()) {
    const shortfall = charge({ ...state, grants: grants.filter((g) => g.kind === 'topup') }, left, '', ctx.now, ctx);
    const others = grants.filter((g) => g.kind !== 'topup');
    grants = [...others, ...shortfall.grants];
    for (const p of shortfall.split) {
      const i = split.findIndex((x) => x.grantId === p.grantId);
      if (i >= 0) split[i] = { grantId: p.grantId, amount: split[i].amount.plus(p.amount) };
      else split.push(p);
    }
  }
  const next: WalletState = { ...state, seq: state.seq + 1, grants };
  return accept(next, ctx, { type: 'reversal', amount: cmd.amount.negated(), split, idempotencyKey: cmd.idempotencyKey, reference: cmd.reference, description: cmd.reason });
}

function checkCreditCurrency(state: WalletState, currency: Currency): Refusal | null {
  const refused = currencyLockRefusal(state.currency, currency, state.currencyLocked);
  return refused === null ? null : refusal(DomainRefusalCode.CURRENCY_LOCKED, refused);
}

function topup(state: WalletState, cmd: TopupCommand, ctx: DecisionContext): Decision {
  const wrongCurrency = checkCreditCurrency(state, cmd.currency);
  if (wrongCurrency) return { ok: false, refusal: wrongCurrency };
  // The next top-up pays the debt first: the negative top-up grant is brought back to zero and
  // the new grant keeps what is left (or the rest of the debt, if the top-up is smaller).
  const debtor = topupInDebt(state.grants);
  const debt = debtor ? debtor.remaining.negated() : ZERO;
  const created: Grant = {
    id: ctx.newId(),
    kind: 'topup',
    amount: cmd.amount,
    remaining: cmd.amount.minus(debt),
    currency: cmd.currency,
    service: null,
    expiresAt: null,
    createdAt: ctx.now,
    sourceRef: `${cmd.provider}:${cmd.reference}`,
  };
  const split: SplitPart[] = [];
  let grants = state.grants;
  if (debtor) {
    split.push({ grantId: debtor.id, amount: debt });
    grants = grants.map((g) => (g === debtor ? { ...g, remaining: ZERO } : g));
  }
  split.push({ grantId: created.id, amount: created.remaining });
  const next: WalletState = { ...state, currency: cmd.currency, currencyLocked: true, seq: state.seq + 1, grants: [...grants, created] };
  return accept(next, ctx, {
    type: 'topup',
    amount: cmd.amount,
    split,
    idempotencyKey: cmd.idempotencyKey,
    reference: created.sourceRef,
  });
}

function grant(state: WalletState, cmd: GrantCommand, ctx: DecisionContext): Decision {
  const wrongCurrency = checkCreditCurrency(state, cmd.currency);
  if (wrongCurrency) return { ok: false, refusal: wrongCurrency };
  if (cmd.expiresAt !== null && cmd.expiresAt.getTime() <= ctx.now.getTime()) {
    return { ok: false, refusal: refusal(DomainRefusalCode.GRANT_ALREADY_EXPIRED, `expiresAt ${cmd.expiresAt.toISOString()} is not in the future`) };
  }
  const created: Grant = {
    id: ctx.newId(),
    kind: cmd.kind,
    amount: cmd.amount,
    remaining: cmd.amount,
    currency: cmd.currency,
    service: cmd.service,
    expiresAt: cmd.expiresAt,
    createdAt: ctx.now,
    sourceRef: cmd.reference,
    rollover: cmd.rollover ?? null,
  };
  const next: WalletState = { ...state, currency: cmd.currency, seq: state.seq + 1, grants: [...state.grants, created] };
  return accept(next, ctx, {
    type: 'grant',
    amount: cmd.amount,
    split: [{ grantId: created.id, amount: cmd.amount }],
    idempotencyKey: cmd.idempotencyKey,
    service: cmd.service,
    reference: cmd.reference,
  });
}

function debit(state: WalletState, cmd: DebitCommand, ctx: DecisionContext): Decision {
  const wrong = checkChargeCurrency(state, cmd.currency);
  if (wrong) return wrong;
  const { grants, split } = charge(state, cmd.amount, cmd.service, ctx.now, ctx);
  const next: WalletState = { ...state, seq: state.seq + 1, grants };
  return accept(next, ctx, {
    type: 'debit',
    amount: cmd.amount.negated(),
    split,
    idempotencyKey: cmd.idempotencyKey,
    service: cmd.service,
    workspaceId: cmd.workspaceId,
    resourceId: cmd.resourceId,
    description: cmd.description,
  });
}
