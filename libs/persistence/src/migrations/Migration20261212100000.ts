import { Migration } from '@mikro-orm/migrations';

const STATUSES = `'pending', 'succeeded', 'failed', 'expired', 'partially_refunded', 'refunded', 'disputed', 'dispute_won', 'dispute_lost'`;

/**
 * Settlement by the set of facts (docs/payments.md, "Settlement"). A top-up keeps every fact its
 * provider reported (`settlement_facts`, one per provider id) and the ledger changes those facts
 * made (`ledger_changes`, appended, never edited), of which the engine confirmed the first
 * `ledger_changes_confirmed`. `version` is the compare-and-set guard of every settlement write;
 * `updated_at` the time of the last one, which the sweep waits past. `status` takes the states
 * of the machine.
 *
 * Rows settled before this change get the facts and changes their old columns stood for, with
 * the keys the engine was sent then (`topup:<id>`, `reverse:<id>`): a succeeded row a capture and
 * its credit; a reversed row also a full refund and its reversal (refunded: an old reversal is
 * final, whatever caused it); a failed row a failed attempt.
 */
export class Migration20261212100000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "topup_intents" add column "settlement_facts" jsonb not null default '[]', add column "ledger_changes" jsonb not null default '[]', add column "ledger_changes_confirmed" int not null default 0, add column "version" int not null default 0, add column "updated_at" timestamptz not null default now();`,
    );
    this.addSql(`alter table "topup_intents" drop constraint if exists "topup_intents_status_check";`);
    this.addSql(`drop index if exists "topup_intents_unconfirmed_index";`);
    const captured = `jsonb_build_object('key', 'legacy:captured', 'at', null, 'input', jsonb_build_object('kind', 'captured', 'amount', "amount"::text, 'captureRef', "capture_ref"))`;
    const credit = `jsonb_build_object('seq', 1, 'kind', 'credit', 'amount', "amount"::text, 'idempotencyKey', 'topup:' || "id", 'cause', 'legacy:captured', 'reason', 'credit: succeeded')`;
    this.addSql(
      `update "topup_intents" set "settlement_facts" = jsonb_build_array(${captured}), "ledger_changes" = jsonb_build_array(${credit}), "ledger_changes_confirmed" = case when "credited_at" is not null then 1 else 0 end, "updated_at" = coalesce("settled_at", "created_at") where "status" = 'succeeded';`,
    );
    const refunded = `jsonb_build_object('key', 'legacy:reversed', 'at', null, 'input', jsonb_build_object('kind', 'refund', 'refundId', null, 'amount', null, 'counts', true, 'total', "amount"::text))`;
    // The reason is the one the old code sent with the reversal: the engine fingerprints it.
    const reversal = `jsonb_build_object('seq', 2, 'kind', 'reversal', 'amount', "amount"::text, 'idempotencyKey', 'reverse:' || "id", 'cause', 'legacy:reversed', 'reason', left(coalesce("failure_reason", 'reversed'), 200))`;
    this.addSql(
      `update "topup_intents" set "status" = 'refunded', "settlement_facts" = jsonb_build_array(${captured}, ${refunded}), "ledger_changes" = jsonb_build_array(${credit}, ${reversal}), "ledger_changes_confirmed" = case when "reversal_confirmed_at" is not null and "credit_error" is null then 2 when "credited_at" is not null then 1 else 0 end, "updated_at" = coalesce("settled_at", "created_at") where "status" = 'reversed';`,
    );
    this.addSql(
      `update "topup_intents" set "settlement_facts" = jsonb_build_array(jsonb_build_object('key', 'legacy:failed', 'at', null, 'input', jsonb_build_object('kind', 'attempt_failed', 'reason', coalesce("failure_reason", 'failed')))), "updated_at" = coalesce("settled_at", "created_at") where "status" = 'failed';`,
    );
    this.addSql(`alter table "topup_intents" add constraint "topup_intents_status_check" check ("status" in (${STATUSES}));`);
    // The sweep's work: changes the engine has not confirmed, on rows it has not refused.
    this.addSql(`create index "topup_intents_unsent_index" on "topup_intents" ("updated_at") where "ledger_changes_confirmed" < jsonb_array_length("ledger_changes") and "credit_error" is null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "topup_intents_unsent_index";`);
    this.addSql(`alter table "topup_intents" drop constraint if exists "topup_intents_status_check";`);
    this.addSql(`update "topup_intents" set "status" = 'reversed' where "status" in ('partially_refunded', 'refunded', 'disputed', 'dispute_lost');`);
    this.addSql(`update "topup_intents" set "status" = 'succeeded' where "status" = 'dispute_won';`);
    this.addSql(`update "topup_intents" set "status" = 'failed' where "status" = 'expired';`);
    this.addSql(`alter table "topup_intents" add constraint "topup_intents_status_check" check ("status" in ('pending', 'succeeded', 'failed', 'reversed'));`);
    this.addSql(
      `alter table "topup_intents" drop column "settlement_facts", drop column "ledger_changes", drop column "ledger_changes_confirmed", drop column "version", drop column "updated_at";`,
    );
    this.addSql(
      `create index "topup_intents_unconfirmed_index" on "topup_intents" ("settled_at") where ("status" = 'succeeded' and "credited_at" is null and "credit_error" is null) or ("status" = 'reversed' and "reversal_confirmed_at" is null);`,
    );
  }
}
