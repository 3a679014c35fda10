import { Migration } from '@mikro-orm/migrations';

/**
 * The alert service's tables: the webhook endpoints each organization configures, and one row
 * per (endpoint, event) recording whether the event reached it, which is what makes a delivery
 * happen at most once after its first success. Written by hand to match the entities
 * (`webhook-endpoint.entity.ts`, `webhook-delivery.entity.ts`) as the generator would.
 */
export class Migration20261127130000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "webhook_endpoints" ("id" uuid not null, "org_id" text not null, "url" text not null, "secret" text not null, "created_at" timestamptz not null default now(), constraint "webhook_endpoints_pkey" primary key ("id"));`);
    this.addSql(`alter table "webhook_endpoints" add constraint "webhook_endpoints_org_id_url_unique" unique ("org_id", "url");`);

    this.addSql(`create table "webhook_deliveries" ("endpoint_id" uuid not null, "event_id" uuid not null, "status" text check ("status" in ('delivered', 'failed')) not null, "attempts" int not null, "last_error" text null, "first_attempt_at" timestamptz not null default now(), "delivered_at" timestamptz null, "updated_at" timestamptz not null default now(), constraint "webhook_deliveries_pkey" primary key ("endpoint_id", "event_id"));`);
    this.addSql(`alter table "webhook_deliveries" add constraint "webhook_deliveries_endpoint_id_foreign" foreign key ("endpoint_id") references "webhook_endpoints" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "webhook_deliveries" cascade;`);
    this.addSql(`drop table if exists "webhook_endpoints" cascade;`);
  }
}
