/** The commands the wallet decides, and the shape of a decision. */
import { Currency } from './currency';
import { GrantKind } from './grant';
import { LedgerEntry } from './ledger-entry';
import { Decimal } from './money';
import { Refusal } from './refusal';
import { WalletState } from './wallet-state';

export interface TopupCommand {
  readonly type: 'topup';
  readonly idempotencyKey: string;
  readonly amount: Decimal;
  readonly currency: Currency;
  readonly provider: string;
  readonly reference: string;
}

export interface GrantCommand {
  readonly type: 'grant';
  readonly idempotencyKey: string;
  readonly kind: Exclude<GrantKind, 'topup'>;
  readonly amount: Decimal;
  readonly currency: Currency;
  readonly service: string | null;
  readonly expiresAt: Date | null;
  readonly reference: string | null;
  /** Plan credit of a subscription that allows rollover (see Grant.rollover). */
  readonly rollover?: { readonly cap: Decimal; readonly periodMs: number } | null;
}

export interface DebitCommand {
  readonly type: 'debit';
  readonly idempotencyKey: string;
  readonly amount: Decimal;
  readonly service: string;
  readonly workspaceId: string;
  readonly resourceId: string | null;
  readonly description: string | null;
  /** When given, must be the wallet's currency. */
  readonly currency: Currency | null;
}

/** Takes back a credited top-up (payment failed later, or charged back): never an edit of history. */
export interface ReverseCommand {
  readonly type: 'reverse';
  readonly idempotencyKey: string;
  readonly amount: Decimal;
  readonly currency: Currency;
  /** `provider:reference` of the top-up being reversed: its grant pays first. */
  readonly reference: string;
  readonly reason: string;
}

export type WalletCommand = TopupCommand | GrantCommand | DebitCommand | ReverseCommand;

/** What the actor passes in: the clock reading for this command and an id source. */
export interface DecisionContext {
  readonly now: Date;
  readonly newId: () => string;
  readonly requestHash: string;
}

export interface Accepted {
  readonly ok: true;
  readonly state: WalletState;
  readonly entry: LedgerEntry;
}

export interface Refused {
  readonly ok: false;
  readonly refusal: Refusal;
}

export type Decision = Accepted | Refused;
