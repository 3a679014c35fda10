import { Migration } from '@mikro-orm/migrations';

/**
 * Auto top-up's card through a Stripe SetupIntent (issue 15, item 4): the Stripe customer the
 * gateway created for each organization (one per organization, `metadata.orgId` set), remembered
 * here because Stripe's customer search is not read-after-write consistent (a second setup within
 * the minute would not find the first's customer and would make another).
 */
export class Migration20270103120000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "stripe_customers" ("org_id" text not null, "customer_id" text not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), constraint "stripe_customers_pkey" primary key ("org_id"));`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "stripe_customers" cascade;`);
  }
}
