import { Migration } from '@mikro-orm/migrations';

/**
 * Stop commands (issue 15, item 2, "stop GPUs"): one row per command the engine sent the control
 * plane, written in the same transaction as the wallet batch that crossed the stop threshold (and
 * its outbox rows, which carry the command to the control stream). `stopped_at` is set when the
 * resource's STOPPED or DELETED is committed (with the resource's row); until then the command is
 * pending and published again every STOP_REPEAT_MS (`last_sent_at`, `repeats`).
 */
export class Migration20270101100000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "stop_commands" ("command_id" uuid not null, "org_id" text not null, "resource_id" text not null, "reason" text not null, "requested_at" timestamptz not null, "stopped_at" timestamptz null, "last_sent_at" timestamptz null, "repeats" int not null default 0, constraint "stop_commands_pkey" primary key ("command_id"));`);
    this.addSql(`create index "stop_commands_pending_idx" on "stop_commands" ("org_id", "resource_id") where "stopped_at" is null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "stop_commands";`);
  }
}
