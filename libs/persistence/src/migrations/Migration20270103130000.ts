import { Migration } from '@mikro-orm/migrations';

/**
 * The enforcement ladder's own settings and its storage step (issue 15, item 2):
 * - `ladder_settings`: an organization's overrides of the engine's ladder defaults (null: the
 *   default), written by `ladder.set` in the commit of its batch (fenced like the money).
 * - `storage_suspensions`: countdowns to deleting an organization's stored data, begun when its
 *   storage debt reached the limit, ended by a top-up paying the debt (`cancelled_at`) or by the
 *   deletion being asked for (`deletion_requested_at`), after which the organization stands at
 *   "stored data deleted" until the debt is paid or a new countdown begins (`settled_at`); at most
 *   one running per organization.
 * - `stop_commands.command`: the table records every command to the control plane, `stop` (ended
 *   by the resource's STOPPED or DELETED) and now `delete_storage` (ended by its DELETED).
 */
export class Migration20270103130000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "ladder_settings" ("org_id" text not null, "min_runway_minutes" int null check ("min_runway_minutes" >= 0), "runway_marks" int[] null, "stop_overdraft" numeric(38,8) null check ("stop_overdraft" >= 0), "storage_debt_limit" numeric(38,8) null check ("storage_debt_limit" >= 0), "storage_deletion_ms" bigint null check ("storage_deletion_ms" > 0), "storage_reminders_ms" bigint[] null, "updated_at" timestamptz not null default now(), constraint "ladder_settings_pkey" primary key ("org_id"));`,
    );
    this.addSql(
      `create table "storage_suspensions" ("org_id" text not null, "suspension_id" uuid not null, "scheduled_at" timestamptz not null, "delete_at" timestamptz not null, "reminders_sent" int not null default 0, "cancelled_at" timestamptz null, "deletion_requested_at" timestamptz null, "settled_at" timestamptz null, constraint "storage_suspensions_pkey" primary key ("org_id", "suspension_id"));`,
    );
    this.addSql(`create unique index "storage_suspensions_running" on "storage_suspensions" ("org_id") where "cancelled_at" is null and "deletion_requested_at" is null;`);
    this.addSql(`create index "storage_suspensions_due" on "storage_suspensions" ("delete_at") where "cancelled_at" is null and "deletion_requested_at" is null;`);
    this.addSql(`alter table "stop_commands" add column "command" text not null default 'stop' check ("command" in ('stop', 'delete_storage'));`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "stop_commands" drop column if exists "command";`);
    this.addSql(`drop table if exists "storage_suspensions";`);
    this.addSql(`drop table if exists "ladder_settings";`);
  }
}
