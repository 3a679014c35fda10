import { EntitySchema } from '@mikro-orm/core';

/**
 * The fence of one partition: `epoch` goes up each time an engine process takes the partition
 * (`take_partition`), and every write of its wallets and resources checks it (`partition_fence`).
 */
export interface PartitionEpochRow {
  /** The group of engine processes (their lease bucket). */
  group: string;
  partition: number;
  epoch: string;
  /** The NODE_ID of the process that took it last. */
  node: string;
  takenAt: Date;
  /** The shard the partition was moved to from this database (`move_partition_out`): it is not taken here again. */
  movedTo?: string | null;
}

export const PartitionEpochEntity = new EntitySchema<PartitionEpochRow>({
  name: 'PartitionEpoch',
  tableName: 'partition_epochs',
  properties: {
    group: { type: 'text', primary: true },
    partition: { type: 'integer', primary: true },
    epoch: { type: 'bigint' },
    node: { type: 'text' },
    takenAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
    movedTo: { type: 'text', nullable: true },
  },
});
