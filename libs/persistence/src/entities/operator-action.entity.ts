import { EntitySchema } from '@mikro-orm/core';

/**
 * What an operator asked for, written before it is done (see the migration of 2026-12-10). Append-only:
 * the database refuses UPDATE, DELETE and TRUNCATE.
 */
export interface OperatorActionRow {
  id: string;
  /** When the engine received it (the database's clock). */
  at: Date;
  /** Who: the `Billing-Operator` header, which the gateway takes from the operator token's `sub`. */
  operator: string;
  /** `http` through the gateway's operator API, `nats` from a tool on the bus. */
  via: string;
  /** `wallet.<command>` or `admin.<command>`. */
  command: string;
  /** The organization acted on, if the command names one. */
  orgId?: string | null;
  /** The parameters as sent, secrets left out (a voucher code is kept as a fingerprint). */
  params: Record<string, unknown>;
  requestId: string;
  /** The engine process that did it (`NODE_ID`). */
  nodeId: string;
}

export const OperatorActionEntity = new EntitySchema<OperatorActionRow>({
  name: 'OperatorAction',
  tableName: 'operator_actions',
  indexes: [
    { name: 'operator_actions_at_idx', properties: ['at'] },
    { name: 'operator_actions_operator_idx', properties: ['operator', 'id'] },
    { name: 'operator_actions_request_id_idx', properties: ['requestId'] },
  ],
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    at: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'clock_timestamp()' },
    operator: { type: 'text' },
    via: { type: 'text' },
    command: { type: 'text' },
    orgId: { type: 'text', nullable: true },
    params: { type: 'json' },
    requestId: { type: 'text' },
    nodeId: { type: 'text' },
  },
});
