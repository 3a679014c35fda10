import { Migration } from '@mikro-orm/migrations';

/** Voucher codes and their redemptions (entities voucher-code and voucher-redemption). */
export class Migration20261127150000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "voucher_codes" ("code" text not null, "amount" numeric(38,8) not null, "currency" text not null, "service" text null, "expires_at" timestamptz null, "expires_after_days" int null, "max_redemptions" int not null, "redemptions" int not null default 0, "campaign_ends_at" timestamptz null, "created_at" timestamptz not null default now(), constraint "voucher_codes_pkey" primary key ("code"), constraint "voucher_codes_redemptions_check" check ("redemptions" <= "max_redemptions"));`);
    this.addSql(`create table "voucher_redemptions" ("code" text not null, "org_id" text not null, "request_key" text not null, "status" text not null, "created_at" timestamptz not null default now(), constraint "voucher_redemptions_pkey" primary key ("code", "org_id"), constraint "voucher_redemptions_code_fk" foreign key ("code") references "voucher_codes" ("code"));`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "voucher_redemptions" cascade;`);
    this.addSql(`drop table if exists "voucher_codes" cascade;`);
  }
}
