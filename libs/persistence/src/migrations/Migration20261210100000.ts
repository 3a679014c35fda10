import { Migration } from '@mikro-orm/migrations';

/**
 * The operators' audit (README, "Operators and the audit"). An operator action is recorded in two
 * append-only steps: `operator_actions` before anything is done (who, what, when, request id; the
 * action is refused if this row cannot be written), then its outcome in
 * `operator_action_outcomes` (at most one per action, by its primary key). An action without an
 * outcome row was in flight, or its process stopped in between. `operator_audit` reads both as
 * one row per action. Like the ledger, neither table takes UPDATE, DELETE or TRUNCATE.
 */
export class Migration20261210100000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "operator_actions" ("id" bigserial primary key, "at" timestamptz not null default clock_timestamp(), "operator" text not null, "via" text not null, "command" text not null, "org_id" text null, "params" jsonb not null, "request_id" text not null, "node_id" text not null, constraint "operator_actions_operator_check" check (length("operator") between 1 and 128), constraint "operator_actions_via_check" check ("via" in ('http', 'nats')));`,
    );
    this.addSql(`create index "operator_actions_at_idx" on "operator_actions" ("at");`);
    this.addSql(`create index "operator_actions_operator_idx" on "operator_actions" ("operator", "id");`);
    this.addSql(`create index "operator_actions_org_id_idx" on "operator_actions" ("org_id", "id") where "org_id" is not null;`);
    this.addSql(`create index "operator_actions_request_id_idx" on "operator_actions" ("request_id");`);
    this.addSql(
      `create table "operator_action_outcomes" ("action_id" bigint not null, "at" timestamptz not null default clock_timestamp(), "outcome" text not null, "message" text null, "detail" jsonb null, constraint "operator_action_outcomes_pkey" primary key ("action_id"), constraint "operator_action_outcomes_action_id_foreign" foreign key ("action_id") references "operator_actions" ("id"));`,
    );
    this.addSql(`create function "operator_audit_append_only"() returns trigger language plpgsql as $$ begin raise exception '% is append-only: % refused', tg_table_name, tg_op; end $$;`);
    for (const table of ['operator_actions', 'operator_action_outcomes']) {
      this.addSql(`create trigger "${table}_no_rewrite" before update or delete on "${table}" for each row execute function "operator_audit_append_only"();`);
      this.addSql(`create trigger "${table}_no_truncate" before truncate on "${table}" for each statement execute function "operator_audit_append_only"();`);
    }
    this.addSql(
      `create view "operator_audit" as select a."id", a."at", a."operator", a."via", a."command", a."org_id", a."params", a."request_id", a."node_id", o."outcome", o."message", o."detail", o."at" as "finished_at" from "operator_actions" a left join "operator_action_outcomes" o on o."action_id" = a."id";`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop view if exists "operator_audit";`);
    this.addSql(`drop table if exists "operator_action_outcomes";`);
    this.addSql(`drop table if exists "operator_actions";`);
    this.addSql(`drop function if exists "operator_audit_append_only"();`);
  }
}
