import { Migration } from '@mikro-orm/migrations';

/**
 * Top-ups paid through VNPAY, Stripe and PayPal: one row per top-up an organization started,
 * settled by the provider's webhook. The partial index serves the sweep that re-sends credits
 * and reversals the engine has not confirmed yet. Written by hand to match
 * `topup-intent.entity.ts` as the generator would, plus that index.
 */
export class Migration20261127170000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "topup_intents" ("id" uuid not null, "org_id" text not null, "amount" numeric(38,8) not null, "currency" text not null, "provider" text check ("provider" in ('stripe', 'vnpay', 'paypal')) not null, "provider_ref" text not null, "capture_ref" text null, "status" text check ("status" in ('pending', 'succeeded', 'failed', 'reversed')) not null, "created_at" timestamptz not null default now(), "settled_at" timestamptz null, "failure_reason" text null, "credited_at" timestamptz null, "credit_error" text null, "reversal_confirmed_at" timestamptz null, constraint "topup_intents_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "topup_intents_org_id_created_at_index" on "topup_intents" ("org_id", "created_at");`);
    this.addSql(`alter table "topup_intents" add constraint "topup_intents_provider_provider_ref_unique" unique ("provider", "provider_ref");`);
    this.addSql(
      `create index "topup_intents_unconfirmed_index" on "topup_intents" ("settled_at") where ("status" = 'succeeded' and "credited_at" is null and "credit_error" is null) or ("status" = 'reversed' and "reversal_confirmed_at" is null);`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "topup_intents" cascade;`);
  }
}
