import { Migration } from '@mikro-orm/migrations';

/**
 * Workspace budgets (issue 15, item 3): a monthly cap per workspace of an organization, in the
 * wallet's currency. Settings, not money: the spend against them is read from the ledger.
 */
export class Migration20270101200000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "workspace_budgets" ("org_id" text not null, "workspace_id" text not null, "monthly_cap" numeric(38,8) not null check ("monthly_cap" >= 0), "currency" text not null, "updated_at" timestamptz not null default now(), constraint "workspace_budgets_pkey" primary key ("org_id", "workspace_id"));`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "workspace_budgets" cascade;`);
  }
}
