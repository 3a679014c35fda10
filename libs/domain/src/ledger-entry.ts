import { SplitPart } from './allocation';
import { Currency } from './currency';
import { Decimal } from './money';

/**
 * `correction` gives back what a meter charged beyond the usage (a late stop); `reversal` takes
 * back a top-up whose payment failed or was charged back (the wallet may go into debt);
 * `rollover` moves plan credit left at the end of a period into the next one (it sums to zero).
 */
export type EntryType = 'topup' | 'grant' | 'debit' | 'expire' | 'correction' | 'reversal' | 'rollover';

/**
 * One effect on a wallet. Credits are positive, debits and write-offs negative; `split` says
 * which grants the amount landed on or came from and always sums to `amount`.
 */
export interface LedgerEntry {
  readonly id: string;
  readonly orgId: string;
  /** Position in the organization's ledger, 1-based, gapless. */
  readonly seq: number;
  readonly type: EntryType;
  readonly amount: Decimal;
  readonly currency: Currency;
  readonly split: readonly SplitPart[];
  readonly idempotencyKey: string;
  /** Fingerprint of the request that made the entry; a reused key with another payload is refused. */
  readonly requestHash: string;
  readonly service: string | null;
  readonly workspaceId: string | null;
  readonly resourceId: string | null;
  readonly description: string | null;
  /** Provider reference of a top-up, code of a voucher, id of a grant: where the money came from. */
  readonly reference: string | null;
  /** For metered usage: GPU time this entry charges (negative for a correction), in milliseconds. */
  readonly usageMs: number | null;
  /** For metered usage: the instant up to which the resource's usage is charged by this entry. */
  readonly usageUntil: Date | null;
  /** Wallet total right after this entry. */
  readonly totalAfter: Decimal;
  readonly at: Date;
}

/** Usage read back from the ledger: the exact amount and GPU-hours of one resource and UTC day. */
export interface UsageRow {
  readonly workspaceId: string | null;
  readonly service: string | null;
  readonly resourceId: string;
  /** YYYY-MM-DD, UTC. */
  readonly day: string;
  readonly amount: string;
  readonly gpuHours: string;
}
