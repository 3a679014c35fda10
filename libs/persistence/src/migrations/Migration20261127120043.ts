import { Migration } from '@mikro-orm/migrations';

export class Migration20261127120043 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "grants" ("id" uuid not null, "org_id" text not null, "kind" text not null, "amount" numeric(38,8) not null, "remaining" numeric(38,8) not null, "currency" text not null, "service" text null, "expires_at" timestamptz null, "created_at" timestamptz not null, "source_ref" text null, "expiry_notice_at" timestamptz null, "rollover_cap" numeric(38,8) null, "rollover_period_ms" bigint null, constraint "grants_pkey" primary key ("id"));`);
    this.addSql(`create index "grants_org_id_idx" on "grants" ("org_id");`);

    this.addSql(`create table "ledger_entries" ("org_id" text not null, "seq" bigint not null, "id" uuid not null, "type" text not null, "amount" numeric(38,8) not null, "currency" text not null, "split" jsonb not null, "idempotency_key" text not null, "request_hash" text not null, "service" text null, "workspace_id" text null, "resource_id" text null, "description" text null, "reference" text null, "total_after" numeric(38,8) not null, "usage_ms" bigint null, "usage_until" timestamptz null, "created_at" timestamptz not null, constraint "ledger_entries_pkey" primary key ("org_id", "seq"));`);
    this.addSql(`alter table "ledger_entries" add constraint "ledger_entries_org_idempotency_key_unique" unique ("org_id", "idempotency_key");`);

    this.addSql(`create table "meters" ("org_id" text not null, "resource_id" text not null, "day" date not null, "charged" numeric(38,8) not null, "usage_ms" bigint not null, "until" timestamptz null, "entries" int not null, "by_grant" jsonb not null, "updated_at" timestamptz not null default now(), constraint "meters_pkey" primary key ("org_id", "resource_id", "day"));`);

    this.addSql(`create table "outbox_events" ("id" bigserial primary key, "event_id" uuid not null, "subject" text not null, "payload" text not null, "created_at" timestamptz not null default now());`);

    this.addSql(`create table "rejected_lifecycle_events" ("id" bigserial primary key, "subject" text not null, "event_id" text null, "reason" text not null, "payload" text not null, "received_at" timestamptz not null default now());`);

    this.addSql(`create table "resources" ("org_id" text not null, "resource_id" text not null, "workspace_id" text not null, "service" text not null, "sku" text not null, "storage_gb" int not null, "events" jsonb not null, "deleted" boolean not null default false, "updated_at" timestamptz not null default now(), constraint "resources_pkey" primary key ("org_id", "resource_id"));`);
    this.addSql(`create index "resources_live_idx" on "resources" ("deleted", "updated_at");`);

    this.addSql(`create table "wallets" ("org_id" text not null, "currency" text null, "currency_locked" boolean not null default false, "version" int not null, "seq" bigint not null, "total" numeric(38,8) not null, "low_balance_thresholds" jsonb not null default '[]', "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), constraint "wallets_pkey" primary key ("org_id"));`);

    // The ledger is append-only: corrections are new entries, never edits of old ones.
    this.addSql(`create function "ledger_entries_append_only"() returns trigger language plpgsql as $$ begin raise exception 'ledger_entries is append-only: % refused', tg_op; end $$;`);
    this.addSql(`create trigger "ledger_entries_no_rewrite" before update or delete on "ledger_entries" for each row execute function "ledger_entries_append_only"();`);
    this.addSql(`create trigger "ledger_entries_no_truncate" before truncate on "ledger_entries" for each statement execute function "ledger_entries_append_only"();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists "ledger_entries_append_only"() cascade;`);
    this.addSql(`drop table if exists "grants" cascade;`);

    this.addSql(`drop table if exists "ledger_entries" cascade;`);

    this.addSql(`drop table if exists "meters" cascade;`);

    this.addSql(`drop table if exists "outbox_events" cascade;`);

    this.addSql(`drop table if exists "rejected_lifecycle_events" cascade;`);

    this.addSql(`drop table if exists "resources" cascade;`);

    this.addSql(`drop table if exists "wallets" cascade;`);
  }

}
