import { Migration } from '@mikro-orm/migrations';

/** Billing plan subscriptions (entity plan-subscription). */
export class Migration20261127160000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "plan_subscriptions" ("id" uuid not null, "org_id" text not null, "plan" text not null, "amount" numeric(38,8) not null, "currency" text not null, "period_ms" bigint not null, "rollover_cap" numeric(38,8) null, "next_period_at" timestamptz not null, "ends_at" timestamptz null, "created_at" timestamptz not null default now(), constraint "plan_subscriptions_pkey" primary key ("id"));`);
    this.addSql(`create index "plan_subscriptions_next_period_idx" on "plan_subscriptions" ("next_period_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "plan_subscriptions" cascade;`);
  }
}
