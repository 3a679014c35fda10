import { Migration } from '@mikro-orm/migrations';

/**
 * The partition of an organization, the unit of ownership between engine processes: the first
 * 32 bits of md5(org_id), unsigned, modulo the partition count. The engine computes the same
 * in TypeScript (`partitionOf`), so a process can ask for the rows of the partitions it owns.
 */
export class Migration20261127180000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create function org_partition(org_id text, partitions int) returns int language sql immutable strict parallel safe as $$ select ((('x' || substr(md5(org_id), 1, 8))::bit(32)::bigint) % partitions)::int $$;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists org_partition(text, int);`);
  }
}
