import { Migration } from '@mikro-orm/migrations';

/**
 * Webhook signing secrets encrypted at rest. The alert service seals each secret (AES-256-GCM,
 * docs/alerts.md "Secrets at rest") into `secret_ciphertext`, with the id of the key that sealed it
 * in `secret_key_id`, so that rows can be counted by key while keys rotate. `secret` (the plain
 * text) becomes nullable and is left only on rows written before this change: the key is not the
 * database's to know, so this migration cannot encrypt them; the alert service does at its next
 * start, and clears `secret`. A row holds one form or the other, never both and never neither.
 */
export class Migration20261205100000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "webhook_endpoints" alter column "secret" drop not null;`);
    this.addSql(`alter table "webhook_endpoints" add column "secret_ciphertext" text null, add column "secret_key_id" text null;`);
    this.addSql(
      `alter table "webhook_endpoints" add constraint "webhook_endpoints_secret_one_form" check (("secret" is null) <> ("secret_ciphertext" is null) and ("secret_ciphertext" is null) = ("secret_key_id" is null));`,
    );
  }

  override async down(): Promise<void> {
    // Going back would need the plain text, which only the alert service's key can give back.
    this.addSql(`do $$ begin
  if exists (select 1 from "webhook_endpoints" where "secret" is null) then
    raise exception 'webhook_endpoints holds encrypted secrets: the plain text cannot be restored by a migration';
  end if;
end $$;`);
    this.addSql(`alter table "webhook_endpoints" drop constraint if exists "webhook_endpoints_secret_one_form";`);
    this.addSql(`alter table "webhook_endpoints" drop column if exists "secret_ciphertext", drop column if exists "secret_key_id";`);
    this.addSql(`alter table "webhook_endpoints" alter column "secret" set not null;`);
  }
}
