import { createHash } from 'crypto';

/**
 * Organizations are owned by engine processes a partition at a time. An organization's partition
 * is the first 32 bits of md5(orgId), unsigned, modulo the partition count: the same function as
 * `org_partition(org_id, partitions)` in the database (migration 20261127180000), so a process
 * can ask for the rows of exactly the partitions it owns.
 */
export function partitionOf(orgId: string, partitions: number): number {
  if (partitions !== remembered.partitions) {
    remembered.byOrg.clear();
    remembered.partitions = partitions;
  }
  let partition = remembered.byOrg.get(orgId);
  if (partition === undefined) {
    partition = createHash('md5').update(orgId, 'utf8').digest().readUInt32BE(0) % partitions;
    if (remembered.byOrg.size >= REMEMBERED_ORGS) remembered.byOrg.clear();
    remembered.byOrg.set(orgId, partition);
  }
  return partition;
}

/**
 * Partitions already worked out: every request asks a few times (its route, its fence), and an
 * md5 each time was about 3% of the engine's CPU per debit. Bounded: forgotten all at once when full.
 */
const remembered = { partitions: 0, byOrg: new Map<string, number>() };
const REMEMBERED_ORGS = 100_000;

/** The partitions a query is limited to: those `owned` out of `count`. */
export interface PartitionFilter {
  readonly count: number;
  readonly owned: readonly number[];
}

/** SQL condition and bindings limiting `column` (an org id) to the filter's partitions; no filter: every row. */
export function partitionCondition(column: string, filter: PartitionFilter | undefined): { sql: string; bindings: (number | number[])[] } {
  if (!filter) return { sql: 'true', bindings: [] };
  return { sql: `org_partition(${column}, ?) = any(?::int[])`, bindings: [filter.count, [...filter.owned]] };
}

/**
 * Where writes are fenced: a group of engine processes sharing organizations (one lease bucket)
 * and its partition count. Groups that share a database but not organizations fence apart.
 */
export interface FenceScope {
  readonly group: string;
  readonly partitions: number;
}
