import { Migration } from '@mikro-orm/migrations';

/**
 * Moving a partition to another shard (README, "Moving a partition"):
 * - `partition_epochs.moved_to`: the shard a partition was moved to from this database. Once set,
 *   `take_partition` refuses the partition here, so no engine process (with the old SHARD_MAP)
 *   can take it back and write in the database it left.
 * - `move_partition_out(group, partition, target)`: the fence of a move. Under the partition's
 *   exclusive advisory lock (it waits for every write fenced by the current epoch to end), it moves
 *   the epoch on and records `moved_to`: every later write of the old owner is refused.
 * - `take_partition` again, refusing a moved partition (SQLSTATE P0003).
 */
export class Migration20270105100000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "partition_epochs" add column "moved_to" text null;`);
    this.addSql(`
create or replace function take_partition(p_group text, p_partition int, p_node text) returns bigint language plpgsql as $$
declare
  v_epoch bigint;
  v_moved text;
begin
  perform pg_advisory_xact_lock(hashtext(p_group), p_partition);
  select moved_to into v_moved from partition_epochs where "group" = p_group and partition = p_partition;
  if v_moved is not null then
    raise exception 'partition % of % was moved to shard %: this database no longer holds it (check SHARD_MAP)', p_partition, p_group, v_moved using errcode = 'P0003';
  end if;
  insert into partition_epochs ("group", partition, epoch, node) values (p_group, p_partition, 1, p_node)
    on conflict ("group", partition) do update set epoch = partition_epochs.epoch + 1, node = excluded.node, taken_at = now()
    returning epoch into v_epoch;
  return v_epoch;
end $$;`);
    this.addSql(`
create function move_partition_out(p_group text, p_partition int, p_target text) returns bigint language plpgsql as $$
declare
  v_epoch bigint;
begin
  perform pg_advisory_xact_lock(hashtext(p_group), p_partition);
  insert into partition_epochs ("group", partition, epoch, node, moved_to) values (p_group, p_partition, 1, 'moved:' || p_target, p_target)
    on conflict ("group", partition) do update set epoch = partition_epochs.epoch + 1, node = excluded.node, moved_to = excluded.moved_to, taken_at = now()
    returning epoch into v_epoch;
  return v_epoch;
end $$;`);
  }
}
