import { Migration } from '@mikro-orm/migrations';

/**
 * Drops `commit_wallet_batch_v2`: no engine has called it since `commit_wallet_batch_v3`
 * (Migration20261202100000), and a second function with the same row positions is a second place
 * to keep them right (test/commit-codec.e2e-spec.ts checks that v3 is the only one).
 */
export class Migration20261221100000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`drop function if exists "commit_wallet_batch_v2"(jsonb, jsonb, jsonb, jsonb, jsonb);`);
  }

  override async down(): Promise<void> {
    // Not brought back: nothing calls it (Migration20261127191500 has its text).
  }
}
