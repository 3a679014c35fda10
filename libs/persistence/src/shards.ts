import { Knex, MikroORM } from '@mikro-orm/postgresql';
import { partitionOf, PartitionFilter } from './partitions';
import { redactedUrl, ShardMap, singleShardMap } from './shard-map';

/**
 * A shard's database could not be reached (or not opened): its organizations are answered
 * UNAVAILABLE, the other shards' are served as usual.
 */
export class ShardUnavailableError extends Error {
  constructor(readonly shard: string, cause: unknown) {
    super(`shard ${shard} could not be reached: ${String((cause as Error)?.message ?? cause)}`);
  }
}

/**
 * The one place that says which database an organization's rows are in (README, "PostgreSQL by
 * partition"): its partition's shard. Every repository of per-organization tables asks it, per
 * organization or per set of partitions; global tables stay with the global home's `MikroORM`.
 *
 * A shard's pool is opened (and its migrations applied) on first use, which is when the process
 * takes one of its partitions: a process connects only to the shards of partitions it has served,
 * and a shard that cannot be reached at that moment is tried again on the next use. A shard whose
 * URL is the global home's shares the home's pool.
 */
export class Shards {
  private readonly opening = new Map<string, Promise<MikroORM>>();
  private readonly open = new Map<string, MikroORM>();

  constructor(
    readonly map: ShardMap,
    private readonly home: { readonly url: string; readonly orm: MikroORM },
    private readonly connect: (url: string) => Promise<MikroORM>,
  ) {}

  /** One database: every partition in `orm` (tests, tools, an install without SHARDS). */
  static single(orm: MikroORM, partitions: number): Shards {
    const url = 'postgresql://single';
    return new Shards(singleShardMap(url, partitions), { url, orm }, () => Promise.resolve(orm));
  }

  get partitions(): number {
    return this.map.byPartition.length;
  }

  get names(): string[] {
    return [...this.map.shards.keys()];
  }

  shardOfPartition(partition: number): string {
    return this.map.byPartition[partition];
  }

  shardOf(orgId: string): string {
    return this.map.byPartition[partitionOf(orgId, this.partitions)];
  }

  /** The shard's ORM, opened (and migrated) on first use; a failure to open is tried again next time. */
  orm(shard: string): Promise<MikroORM> {
    const ready = this.open.get(shard);
    if (ready) return Promise.resolve(ready);
    const url = this.map.shards.get(shard);
    if (url === undefined) return Promise.reject(new Error(`no shard named ${shard}`));
    let opening = this.opening.get(shard);
    if (!opening) {
      opening = (url === this.home.url ? Promise.resolve(this.home.orm) : this.connect(url)).then(
        (orm) => {
          this.open.set(shard, orm);
          this.opening.delete(shard);
          return orm;
        },
        (error) => {
          this.opening.delete(shard);
          throw new ShardUnavailableError(shard, `${redactedUrl(url)}: ${String((error as Error)?.message ?? error)}`);
        },
      );
      this.opening.set(shard, opening);
    }
    return opening;
  }

  async knex(shard: string): Promise<Knex> {
    return (await this.orm(shard)).em.getConnection().getKnex();
  }

  /** The knex of the organization's shard. */
  knexOf(orgId: string): Promise<Knex> {
    return this.knex(this.shardOf(orgId));
  }

  /**
   * A filter cut by shard: each shard with the filter's partitions it holds (shards holding none
   * left out). No filter: every shard, unfiltered (its rows are its own partitions' anyway).
   */
  split(filter: PartitionFilter | undefined): { shard: string; filter: PartitionFilter | undefined }[] {
    if (!filter) return this.names.map((shard) => ({ shard, filter: undefined }));
    const by = new Map<string, number[]>();
    for (const p of filter.owned) {
      const s = this.shardOfPartition(p);
      let list = by.get(s);
      if (!list) by.set(s, (list = []));
      list.push(p);
    }
    return [...by].map(([shard, owned]) => ({ shard, filter: { count: filter.count, owned } }));
  }

  /** Groups items by their organization's shard. */
  group<T>(items: readonly T[], orgOf: (item: T) => string): Map<string, T[]> {
    const by = new Map<string, T[]>();
    for (const item of items) {
      const s = this.shardOf(orgOf(item));
      let list = by.get(s);
      if (!list) by.set(s, (list = []));
      list.push(item);
    }
    return by;
  }

  /** The shards opened so far (for health checks and shutdown). */
  opened(): { shard: string; orm: MikroORM }[] {
    return [...this.open].map(([shard, orm]) => ({ shard, orm }));
  }

  /** Closes the shards' own pools (not the global home's, which its owner closes). */
  async close(): Promise<void> {
    const pending = [...this.opening.values()].map((p) => p.catch(() => null));
    await Promise.all(pending);
    await Promise.all([...this.open.values()].filter((orm) => orm !== this.home.orm).map((orm) => orm.close(true).catch(() => undefined)));
    this.open.clear();
  }
}

/**
 * An outbox row's id as the relay knows it: `<shard>:<id>`, the row's id being unique only within
 * its shard's table.
 */
export function outboxId(shard: string, id: string | number): string {
  return `${shard}:${id}`;
}

/** The shard and the row id of an `outboxId`. */
export function parseOutboxId(id: string): { shard: string; rowId: string } {
  const i = id.lastIndexOf(':');
  return { shard: id.slice(0, i), rowId: id.slice(i + 1) };
}
