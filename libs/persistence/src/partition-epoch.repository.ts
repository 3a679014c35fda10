import { FenceScope } from './partitions';
import { Shards } from './shards';

/**
 * The fences of the partitions. Leases in NATS decide which process serves a partition; the epoch
 * here decides which process may still write to it: whoever took it last. A partition's epoch is
 * in its shard's database, beside the rows it fences (every write there checks it in its own
 * transaction).
 */
export class PartitionEpochRepository {
  constructor(private readonly shards: Shards, private readonly scope: FenceScope) {}

  /**
   * Takes the partitions for `node`: each epoch goes up by one once every write fenced by the old
   * epoch has ended (`take_partition`). Returns the new epochs, by partition.
   */
  async take(partitions: readonly number[], node: string): Promise<Map<number, number>> {
    const epochs = new Map<number, number>();
    // One transaction per partition: a partition whose old owner is still committing waits alone.
    await Promise.all(
      partitions.map(async (p) => {
        const knex = await this.shards.knex(this.shards.shardOfPartition(p));
        const rows = (await knex.raw('select take_partition(?, ?, ?) as epoch', [this.scope.group, p, node])).rows as { epoch: string }[];
        epochs.set(p, Number(rows[0].epoch));
      }),
    );
    return epochs;
  }

  /**
   * The epochs of these partitions as their shards have them now (a shard that cannot be reached
   * is left out: no evidence either way). A partition without a row is absent.
   */
  async current(partitions: readonly number[]): Promise<Map<number, number>> {
    const epochs = new Map<number, number>();
    await Promise.all(
      this.shards.split({ count: this.scope.partitions, owned: partitions }).map(async ({ shard, filter }) => {
        try {
          const rows = (await (await this.shards.knex(shard)).raw('select partition, epoch from partition_epochs where "group" = ? and partition = any(?::int[])', [this.scope.group, [...filter!.owned]])).rows as { partition: number; epoch: string }[];
          for (const r of rows) epochs.set(Number(r.partition), Number(r.epoch));
        } catch {
          // Unreachable now: its writes are refused anyway, and the next check looks again.
        }
      }),
    );
    return epochs;
  }
}
