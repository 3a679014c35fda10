import { MikroORM } from '@mikro-orm/postgresql';
import { FenceScope } from './partitions';

/**
 * The fences of the partitions. Leases in NATS decide which process serves a partition; the epoch
 * here decides which process may still write to it: whoever took it last.
 */
export class PartitionEpochRepository {
  constructor(private readonly orm: MikroORM, private readonly scope: FenceScope) {}

  /**
   * Takes the partitions for `node`: each epoch goes up by one once every write fenced by the old
   * epoch has ended (`take_partition`). Returns the new epochs, by partition.
   */
  async take(partitions: readonly number[], node: string): Promise<Map<number, number>> {
    const knex = this.orm.em.getConnection().getKnex();
    const epochs = new Map<number, number>();
    // One transaction per partition: a partition whose old owner is still committing waits alone.
    await Promise.all(
      partitions.map(async (p) => {
        const rows = (await knex.raw('select take_partition(?, ?, ?) as epoch', [this.scope.group, p, node])).rows as { epoch: string }[];
        epochs.set(p, Number(rows[0].epoch));
      }),
    );
    return epochs;
  }
}
