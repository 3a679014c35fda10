import { Migration } from '@mikro-orm/migrations';

/**
 * Safe auto top-up (issue 15, item 4): an organization's settings, with the payment method it
 * saved and its recorded consent, and one attempt row per crossing (unique per organization and
 * the seq it crossed at), whose id is the top-up intent's it made, if any.
 */
export class Migration20261231100000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "auto_topup_settings" ("org_id" text not null, "enabled" boolean not null, "trigger_kind" text check ("trigger_kind" in ('amount', 'runway')) not null, "trigger_amount" numeric(38,8) null, "trigger_runway_seconds" int null, "target" numeric(38,8) not null, "currency" text not null, "max_per_topup" numeric(38,8) not null, "max_per_day" numeric(38,8) not null, "max_per_month" numeric(38,8) not null, "stripe_customer" text not null, "stripe_payment_method" text not null, "consent_at" timestamptz not null, "consent_by" text not null, "armed" boolean not null default true, "last_seq" bigint not null default -1, "disabled_reason" text null, "disabled_at" timestamptz null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), constraint "auto_topup_settings_pkey" primary key ("org_id"));`,
    );
    this.addSql(
      `create table "auto_topup_attempts" ("id" uuid not null, "org_id" text not null, "crossing_seq" bigint not null, "idempotency_key" text not null, "amount" numeric(38,8) null, "currency" text not null, "status" text check ("status" in ('charging', 'submitted', 'failed', 'skipped')) not null, "reason" text null, "payment_intent_id" text null, "alert_event_id" uuid null, "alert_published_at" timestamptz null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), constraint "auto_topup_attempts_pkey" primary key ("id"));`,
    );
    this.addSql(`alter table "auto_topup_attempts" add constraint "auto_topup_attempts_org_id_crossing_seq_unique" unique ("org_id", "crossing_seq");`);
    this.addSql(`create index "auto_topup_attempts_org_id_created_at_index" on "auto_topup_attempts" ("org_id", "created_at");`);
    this.addSql(`create index "auto_topup_attempts_unfinished_index" on "auto_topup_attempts" ("updated_at") where "status" in ('charging', 'submitted') or ("alert_event_id" is not null and "alert_published_at" is null);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "auto_topup_attempts" cascade;`);
    this.addSql(`drop table if exists "auto_topup_settings" cascade;`);
  }
}
