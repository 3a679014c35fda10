import { EntitySchema } from '@mikro-orm/core';

/** How an operator action ended: one row per action at most, append-only like the actions. */
export interface OperatorActionOutcomeRow {
  /** The `operator_actions` row it ends. */
  actionId: string;
  at: Date;
  /** `ok`, or the error code of the reply. */
  outcome: string;
  /** The error's message. */
  message?: string | null;
  /** What it made: the ledger entry (`entryId`, `seq`), the subscription, the voucher code's fingerprint. */
  detail?: Record<string, unknown> | null;
}

export const OperatorActionOutcomeEntity = new EntitySchema<OperatorActionOutcomeRow>({
  name: 'OperatorActionOutcome',
  tableName: 'operator_action_outcomes',
  properties: {
    actionId: { type: 'bigint', primary: true },
    at: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'clock_timestamp()' },
    outcome: { type: 'text' },
    message: { type: 'text', nullable: true },
    detail: { type: 'json', nullable: true },
  },
});
