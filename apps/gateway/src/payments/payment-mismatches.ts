import { Currency, Decimal, fromMinorUnits, heldInLedger, LedgerChange, SettlementView, sum, ZERO } from '@billing/domain';
import { PayPalOrder, StripePaymentIntent, VnpayQueryResult } from './provider-clients';

/**
 * Where a provider's record of a payment, its `topup_intents` row and the ledger disagree (the
 * operators' mismatch report, reconciliation's counts). Pure: the service reads the three and
 * hands them here.
 */
export type MismatchKind =
  /** The provider took the money; the top-up holds no capture (pending, failed or expired here). */
  | 'provider_captured_not_credited'
  /** The top-up holds a capture; the provider has none (or no record of the payment at all). */
  | 'credited_without_capture'
  /** Both hold a capture, of different amounts. */
  | 'captured_amount_differs'
  /** The provider's refunded total is not what the settlement counts. */
  | 'refunded_differs'
  /** The ledger's net under the top-up's keys is not what the settlement sent (or is sending) the engine. */
  | 'ledger_differs'
  /** Ledger changes stored but still unconfirmed by the engine, long after the sweep should have sent them. */
  | 'ledger_behind'
  /** The engine refused a change of the top-up for good: an operator settles it by hand. */
  | 'ledger_refused'
  /** A ledger entry under a payment's key whose top-up does not exist. */
  | 'ledger_without_topup'
  /** Still pending after its payment window closed and its grace passed: reconciliation has not closed it. */
  | 'pending_past_expiry';

export const MISMATCH_KINDS: readonly MismatchKind[] = ['provider_captured_not_credited', 'credited_without_capture', 'captured_amount_differs', 'refunded_differs', 'ledger_differs', 'ledger_behind', 'ledger_refused', 'ledger_without_topup', 'pending_past_expiry'];

export interface Mismatch {
  readonly kind: MismatchKind;
  /** In words, with the figures. */
  readonly detail: string;
}

/** A provider's record of a payment, in the terms the comparison needs. */
export type ProviderRecord =
  /** The provider has no such payment (Stripe's 404, PayPal's 404, VNPAY's 91). */
  | { readonly found: false; readonly state: string }
  | {
      readonly found: true;
      /** The provider's own word for where it stands (`succeeded`, `COMPLETED`, `00/01`...). */
      readonly state: string;
      /** Whether money was taken (and maybe given back since). */
      readonly taken: boolean;
      /** What was taken, when the provider says. */
      readonly captured: Decimal | null;
      /** What was refunded of it, when the provider says. */
      readonly refunded: Decimal | null;
    };

/** A PaymentIntent (retrieved with its latest charge): succeeded is money taken; the charge's amount_refunded what went back. */
export function stripeRecord(pi: StripePaymentIntent, currency: Currency): ProviderRecord {
  const taken = pi.status === 'succeeded';
  return {
    found: true,
    state: pi.status,
    taken,
    captured: taken ? fromMinorUnits(pi.amountReceivedMinor, currency) : null,
    refunded: pi.amountRefundedMinor === null ? null : fromMinorUnits(pi.amountRefundedMinor, currency),
  };
}

/** An order: a capture COMPLETED, PARTIALLY_REFUNDED or REFUNDED is money taken; REFUNDED gave all of it back, COMPLETED none. */
export function paypalRecord(order: PayPalOrder): ProviderRecord {
  const taken = order.captures.filter((c) => c.status === 'COMPLETED' || c.status === 'PARTIALLY_REFUNDED' || c.status === 'REFUNDED');
  const state = [order.status, ...order.captures.map((c) => `capture ${c.status}`)].join(', ');
  if (taken.length === 0) return { found: true, state, taken: false, captured: null, refunded: null };
  const captured = taken.every((c) => c.amount !== null) ? sum(taken.map((c) => c.amount!)) : null;
  const partly = taken.some((c) => c.status === 'PARTIALLY_REFUNDED');
  const refunded = partly ? null : sum(taken.flatMap((c) => (c.status === 'REFUNDED' && c.amount !== null ? [c.amount] : [])));
  return { found: true, state, taken: true, captured, refunded };
}

/**
 * A `querydr` answer. A payment (`01`) of status 00 is money taken; 05 and 06 (a refund under
 * way), 09 (a refund refused) and the refund types (02, 03) say it was taken, without the
 * payment's amount. What was refunded is not compared: querydr reports one transaction.
 */
export function vnpayRecord(result: VnpayQueryResult): ProviderRecord {
  if (!result.found) return { found: false, state: '91 not found' };
  const state = `${result.transactionType ?? '-'}/${result.transactionStatus}`;
  const paid = result.transactionType === '01' && result.transactionStatus === '00';
  const refundedSome = ['05', '06', '09'].includes(result.transactionStatus) || result.transactionType === '02' || result.transactionType === '03';
  return { found: true, state, taken: paid || refundedSome, captured: paid ? result.amount : null, refunded: null };
}

export interface MismatchInput {
  readonly status: string;
  readonly expiresAt: Date;
  readonly updatedAt: Date;
  readonly creditError: string | null;
  readonly changes: readonly LedgerChange[];
  readonly changesConfirmed: number;
  readonly view: SettlementView;
  /** The ledger's net under the top-up's keys. */
  readonly ledgerNet: Decimal;
  /** null: the provider was not asked (or could not be). */
  readonly provider: ProviderRecord | null;
  readonly now: Date;
  /** Unconfirmed changes older than this are overdue (the sweep re-sends after PAYMENTS_SWEEP_MIN_AGE_MS, every PAYMENTS_SWEEP_INTERVAL_MS). */
  readonly ledgerBehindAfterMs: number;
  /** A pending top-up this long past its window is overdue for expiry. */
  readonly expiryOverdueAfterMs: number;
}

/** Every disagreement between the three records of one top-up. */
export function findMismatches(input: MismatchInput): Mismatch[] {
  const out: Mismatch[] = [];
  const { view, changes } = input;
  const fmt = (d: Decimal | null) => (d === null ? 'unknown' : d.toFixed());
  // What the ledger may hold: what the engine confirmed, up to every change stored (one may have landed, its answer lost).
  const possible: Decimal[] = [];
  for (let k = input.changesConfirmed; k <= changes.length; k++) possible.push(heldInLedger(changes.slice(0, k)));
  const sent = heldInLedger(changes);
  if (!possible.some((p) => p.equals(input.ledgerNet))) {
    out.push({ kind: 'ledger_differs', detail: `the ledger holds ${input.ledgerNet.toFixed()} under the top-up's keys; the settlement sent ${possible.map((p) => p.toFixed()).join(' or ')} (owed ${view.owed.toFixed()})` });
  } else if (input.creditError === null && !sent.equals(view.owed)) {
    // The machine keeps these equal; a row edited by hand does not.
    out.push({ kind: 'ledger_differs', detail: `the settlement's changes hold ${sent.toFixed()}; its facts owe ${view.owed.toFixed()}` });
  }
  if (input.creditError !== null) out.push({ kind: 'ledger_refused', detail: `the engine refused a change for good: ${input.creditError}` });
  else if (input.changesConfirmed < changes.length && input.now.getTime() - input.updatedAt.getTime() > input.ledgerBehindAfterMs) {
    out.push({ kind: 'ledger_behind', detail: `${changes.length - input.changesConfirmed} ledger change(s) not confirmed by the engine since ${input.updatedAt.toISOString()}` });
  }
  if (input.status === 'pending' && input.now.getTime() > input.expiresAt.getTime() + input.expiryOverdueAfterMs) {
    out.push({ kind: 'pending_past_expiry', detail: `still pending; its payment window closed at ${input.expiresAt.toISOString()}` });
  }
  const p = input.provider;
  if (p === null) return out;
  const oursTaken = view.captured.greaterThan(ZERO);
  if (!p.found) {
    if (oursTaken) out.push({ kind: 'credited_without_capture', detail: `captured ${view.captured.toFixed()} here; the provider has no such payment (${p.state})` });
    return out;
  }
  if (p.taken && !oursTaken) out.push({ kind: 'provider_captured_not_credited', detail: `the provider took ${fmt(p.captured)} (${p.state}); the top-up is ${input.status}` });
  else if (!p.taken && oursTaken) out.push({ kind: 'credited_without_capture', detail: `captured ${view.captured.toFixed()} here; the provider took nothing (${p.state})` });
  else if (p.taken && p.captured !== null && !p.captured.equals(view.captured)) {
    out.push({ kind: 'captured_amount_differs', detail: `the provider took ${p.captured.toFixed()}; the settlement holds a capture of ${view.captured.toFixed()}` });
  }
  if (p.found && p.refunded !== null && oursTaken && !p.refunded.equals(view.refunded)) {
    out.push({ kind: 'refunded_differs', detail: `the provider refunded ${p.refunded.toFixed()}; the settlement counts ${view.refunded.toFixed()}` });
  }
  return out;
}
