import { Migration } from '@mikro-orm/migrations';

/**
 * Reconciliation, expiry and operator refunds of paid top-ups (docs/payments.md).
 *
 * `topup_intents` learns when its payment window closes (`expires_at`: VNPAY's vnp_ExpireDate,
 * PayPal's order window, Stripe's setting; rows from before get their provider's default from
 * `created_at`), and the reconciliation job's bookkeeping: `reconcile_lease_until` (a gateway
 * claimed the row for one run; others skip it until then), `reconcile_at` (not asked again
 * before), `reconcile_attempts`, `reconciled_at` and `reconcile_outcome` (the last question and
 * its answer). The partial index serves the job and the pending-age metrics.
 *
 * `topup_refunds`: one row per operator refund, keyed by its top-up and idempotency key, written
 * before the provider is called (`requested`), then `succeeded` or `failed`; `requested_amount`
 * is what the operator asked (null: all that was left), `amount` what that came to.
 */
export class Migration20261220100000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "topup_intents" add column "expires_at" timestamptz null, add column "reconcile_at" timestamptz null, add column "reconcile_attempts" int not null default 0, add column "reconcile_lease_until" timestamptz null, add column "reconciled_at" timestamptz null, add column "reconcile_outcome" text null;`,
    );
    this.addSql(
      `update "topup_intents" set "expires_at" = "created_at" + case "provider" when 'vnpay' then interval '15 minutes' when 'paypal' then interval '3 hours' else interval '24 hours' end;`,
    );
    this.addSql(`create index "topup_intents_pending_index" on "topup_intents" ("created_at") where "status" = 'pending';`);
    this.addSql(
      `create table "topup_refunds" ("id" uuid not null, "topup_id" uuid not null, "idempotency_key" text not null, "requested_amount" numeric(38,8) null, "amount" numeric(38,8) not null, "currency" text not null, "reason" text not null, "operator" text not null, "request_id" text not null, "status" text check ("status" in ('requested', 'succeeded', 'failed')) not null, "provider_refund_id" text null, "provider_status" text null, "error" text null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), constraint "topup_refunds_pkey" primary key ("id"));`,
    );
    this.addSql(`alter table "topup_refunds" add constraint "topup_refunds_topup_id_foreign" foreign key ("topup_id") references "topup_intents" ("id") on update cascade;`);
    this.addSql(`alter table "topup_refunds" add constraint "topup_refunds_topup_id_idempotency_key_unique" unique ("topup_id", "idempotency_key");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "topup_refunds" cascade;`);
    this.addSql(`drop index if exists "topup_intents_pending_index";`);
    this.addSql(
      `alter table "topup_intents" drop column "expires_at", drop column "reconcile_at", drop column "reconcile_attempts", drop column "reconcile_lease_until", drop column "reconciled_at", drop column "reconcile_outcome";`,
    );
  }
}
