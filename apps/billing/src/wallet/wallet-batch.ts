/**
 * Deciding one batch of a wallet actor's mailbox on its in-memory state: money commands,
 * meters, authorizations and expiry. Pure but for new ids; nothing here is committed or sent.
 */
import { randomUUID } from 'crypto';
import { BalanceSnapshot, entryView, ErrorCode, errorReply, ladderView } from '@billing/contracts';
import {
  admission,
  Currency,
  decide,
  decideMeter,
  EMPTY_METER,
  expireGrants,
  expiringNotices,
  Grant,
  LadderOverrides,
  ladderRefusal,
  LadderSettings,
  ladderSettings,
  LedgerEntry,
  MeterState,
  PriceBook,
  ResourceCharge,
  ResourceHold,
  toExact,
  totalHeld,
  WalletState,
  ZERO,
} from '@billing/domain';
import { LoadedWallet, meterKey } from '@billing/persistence';
import { WalletMessage } from './wallet-message';
import { BudgetBook, budgetCheck, budgetSetRefusal, budgetsView } from './wallet-budgets';

/** What a resource burns now, as its last meter said: for the burn rate, the runway and `depleted`. */
export interface Burning {
  readonly charge: ResourceCharge;
}

/** What each running GPU resource holds, by resource id (see LoadedWallet.holds). */
export type Holds = ReadonlyMap<string, ResourceHold>;

export interface Outcome {
  readonly message: WalletMessage;
  readonly body: (state: WalletState, holds: Holds) => object;
}

export interface BatchResult {
  readonly state: WalletState;
  readonly entries: LedgerEntry[];
  readonly outcomes: Outcome[];
  /** Meters set by the batch, by `meterKey`. */
  readonly meters: Map<string, { resourceId: string; day: string; meter: MeterState }>;
  /** Holds the batch changed, by resource id (an amount of zero: released). */
  readonly holds: Map<string, ResourceHold>;
  /** The latest charge of each resource metered by the batch. */
  readonly burning: Map<string, Burning>;
  /** Grants announced as expiring soon by this batch. */
  readonly notices: Grant[];
  /** Idempotency keys of commands refused by the batch: maybe replays of a command that succeeded earlier. */
  readonly refusedKeys: string[];
  /** The organization's ladder overrides as the batch's `ladder.set`s left them; null: unchanged. */
  readonly ladder: LadderOverrides | null;
  readonly now: Date;
}

/** What a batch's decision reads from its actor. */
export interface BatchContext {
  /** The balance as the actor reports it (with the burn rate of the resources it knows). */
  readonly snapshot: (state: WalletState, holds: Holds) => BalanceSnapshot;
  readonly prices: () => PriceBook;
  /** A `grant_expiring` notice goes out this long before a grant with credit left expires. */
  readonly expiryNoticeMs: number;
  /** Workspace caps and month-to-date spend, as committed (a `budgets.set` of the batch is stored before it is decided). */
  readonly budgets: () => BudgetBook;
  /** The enforcement ladder's defaults (the organization's overrides are the wallet's). */
  readonly ladderDefaults: LadderSettings;
}

/** `prior`: ledger entries already stored under keys of the batch (replays answer with them). */
export function decideBatch(ctx: BatchContext, wallet: LoadedWallet, batch: WalletMessage[], prior: LedgerEntry[], now: Date): BatchResult {
  const seen = new Map(prior.map((e) => [e.idempotencyKey, e]));
  const expired = expireGrants(wallet.state, { now, newId: randomUUID });
  let state = expired.state;
  const entries: LedgerEntry[] = [...expired.entries];
  const outcomes: Outcome[] = [];
  const meters: BatchResult['meters'] = new Map();
  const burning: BatchResult['burning'] = new Map();
  const changedHolds: BatchResult['holds'] = new Map();
  const holds = new Map(wallet.holds);
  const refusedKeys: string[] = [];
  let ladder: LadderOverrides | null = null;
  const fixed = (body: object) => () => body;
  for (const message of batch) {
    const parsed = message.parsed;
    switch (parsed.name) {
      case 'balance':
        outcomes.push({ message, body: (s, h) => ({ ok: true, balance: ctx.snapshot(s, h) }) });
        break;
      case 'expire':
        break;
      case 'alerts.set':
        outcomes.push({ message, body: fixed({ ok: true, lowBalance: parsed.lowBalance.map((t) => t.toFixed()) }) });
        break;
      case 'authorize':
        outcomes.push({ message, body: fixed(withinBudget(ctx, state, parsed.workspaceId, entries, now, authorize(ctx, ladderSettings(ctx.ladderDefaults, ladder ?? wallet.ladder).minRunwayMinutes, state, holds, parsed.service, parsed.sku, now))) });
        break;
      case 'budgets.set': {
        const refused = budgetSetRefusal(ctx.budgets(), state.currency, parsed.workspaceId, parsed.monthlyCap, parsed.currency);
        outcomes.push({ message, body: refused ? fixed(errorReply(refused.code, refused.message)) : (s) => budgetsView(ctx.budgets(), s.currency, now) });
        break;
      }
      case 'budgets.get':
        outcomes.push({ message, body: (s) => budgetsView(ctx.budgets(), s.currency, now) });
        break;
      case 'ladder.set':
      case 'ladder.get': {
        // Committed with the batch (fenced like its money): its crossings already use the new settings.
        if (parsed.name === 'ladder.set') {
          const next: LadderOverrides = { ...(ladder ?? wallet.ladder), ...parsed.changes };
          const refused = ladderRefusal(ladderSettings(ctx.ladderDefaults, next));
          if (refused) {
            outcomes.push({ message, body: fixed(errorReply(ErrorCode.INVALID_FIELD, `${refused}; nothing was changed`)) });
            break;
          }
          ladder = next;
        }
        const overrides = ladder ?? wallet.ladder;
        outcomes.push({ message, body: fixed(ladderView(ladderSettings(ctx.ladderDefaults, overrides), overrides, wallet.storage)) });
        break;
      }
      case 'meter': {
        const before = entries.length;
        const { currency } = state;
        if (currency === null) {
          outcomes.push({ message, body: fixed(errorReply(ErrorCode.NO_BILLING_CURRENCY, 'the wallet has never been credited: the usage waits until it has a billing currency')) });
          break;
        }
        const { hold } = parsed.charge;
        if (parsed.charge.days.some((d) => !d.amounts.has(currency)) || !parsed.charge.ratesPerHour.has(currency) || (hold.untilMs !== null && !hold.amounts.has(currency))) {
          outcomes.push({ message, body: fixed(errorReply(ErrorCode.CURRENCY_MISMATCH, `the wallet bills in ${currency}; the charge is priced in another currency`)) });
          break;
        }
        state = setMeters(state, currency, wallet, parsed.charge, now, entries, meters);
        // The hold is the resource's to say; the wallet keeps the last one, in its currency.
        const next: ResourceHold = { amount: hold.amounts.get(currency) ?? ZERO, untilMs: hold.untilMs };
        const held = holds.get(parsed.charge.resourceId) ?? { amount: ZERO, untilMs: null };
        if (!next.amount.equals(held.amount) || next.untilMs !== held.untilMs) {
          changedHolds.set(parsed.charge.resourceId, next);
          if (next.amount.isZero()) holds.delete(parsed.charge.resourceId);
          else holds.set(parsed.charge.resourceId, next);
        }
        burning.set(parsed.charge.resourceId, { charge: parsed.charge });
        outcomes.push({ message, body: fixed({ ok: true, currency, entries: entries.length - before }) });
        break;
      }
      default: {
        const { command, requestHash } = parsed;
        const first = seen.get(command.idempotencyKey);
        if (first) {
          const body =
            first.requestHash === requestHash
              ? { ok: true, entry: entryView(first) }
              : errorReply(ErrorCode.IDEMPOTENCY_CONFLICT, `idempotency key '${command.idempotencyKey}' was used for a different request`);
          outcomes.push({ message, body: fixed(body) });
          break;
        }
        const decision = decide(state, command, { now, newId: randomUUID, requestHash });
        if (!decision.ok) {
          refusedKeys.push(command.idempotencyKey);
          outcomes.push({ message, body: fixed(errorReply(decision.refusal.code, decision.refusal.message)) });
          break;
        }
        state = decision.state;
        entries.push(decision.entry);
        seen.set(command.idempotencyKey, decision.entry);
        outcomes.push({ message, body: fixed({ ok: true, entry: entryView(decision.entry) }) });
      }
    }
  }
  // A correction may give credit back to a grant that has expired since: written off at once.
  const after = expireGrants(state, { now, newId: randomUUID });
  entries.push(...after.entries);
  const announced = expiringNotices(after.state, now, ctx.expiryNoticeMs);
  return { state: announced.state, entries, outcomes, meters, holds: changedHolds, burning, notices: announced.notices, refusedKeys, ladder, now };
}

/** Sets each day's meter of the resource to what its resource actor says the day owes. */
function setMeters(start: WalletState, currency: Currency, wallet: LoadedWallet, charge: ResourceCharge, now: Date, entries: LedgerEntry[], meters: BatchResult['meters']): WalletState {
  let state = start;
  for (const d of charge.days) {
    const key = meterKey(charge.resourceId, d.day);
    const meter = meters.get(key)?.meter ?? wallet.meters.get(key) ?? EMPTY_METER;
    const decision = decideMeter(
      state,
      meter,
      { type: 'meter', resourceId: charge.resourceId, day: d.day, workspaceId: charge.workspaceId, service: charge.service, currency, amount: d.amounts.get(currency)!, usageMs: d.usageMs, until: new Date(d.untilMs) },
      { now, newId: randomUUID },
    );
    if (!decision.ok) throw new Error(`meter ${charge.resourceId} ${d.day}: ${decision.refusal.message}`);
    state = decision.state;
    if (decision.entry) entries.push(decision.entry);
    if (decision.meter !== meter) meters.set(key, { resourceId: charge.resourceId, day: d.day, meter: decision.meter });
  }
  return state;
}

/** A launch in a workspace whose monthly cap is used up is refused, whatever the balance. */
function withinBudget(ctx: BatchContext, state: WalletState, workspaceId: string, entries: readonly LedgerEntry[], now: Date, answer: object): object {
  const check = budgetCheck(ctx.budgets(), state.currency, workspaceId, entries, now);
  if (!check || !('authorized' in answer)) return answer;
  return check.exhausted ? { ...answer, authorized: false, reason: `${check.reason}: launches there wait for next month or a higher cap`, budget: check.budget } : { ...answer, budget: check.budget };
}

/** May a resource start: compared with what is available, the holds of running GPUs taken off. */
function authorize(ctx: BatchContext, minRunwayMinutes: number, state: WalletState, holds: Holds, service: string, sku: string, now: Date): object {
  if (state.currency === null) return errorReply(ErrorCode.NO_BILLING_CURRENCY, 'the wallet has never been credited');
  const prices = ctx.prices();
  if (!prices.knows(sku)) return errorReply(ErrorCode.UNKNOWN_SKU, `no price for SKU '${sku}'`);
  const held = totalHeld([...holds.values()].map((h) => h.amount));
  const { authorized, required, usable, available } = admission(state, service, now, prices.gpuRatePerHour(sku, state.currency, now.getTime()), minRunwayMinutes, held);
  const short = held.isZero()
    ? `the balance usable for ${service} (${toExact(usable)} ${state.currency})`
    : `the balance available for ${service} (${toExact(usable)} ${state.currency} usable, less ${toExact(held)} ${state.currency} held for running GPUs: ${toExact(available)})`;
  return {
    ok: true,
    authorized,
    ...(authorized ? {} : { reason: `${short} does not cover ${minRunwayMinutes} minutes of ${sku} (${toExact(required)} ${state.currency})` }),
    required: toExact(required),
    usable: toExact(usable),
    held: toExact(held),
    available: toExact(available),
    balance: ctx.snapshot(state, holds),
  };
}
