import { envInt, envSetting } from '@billing/observability';
import { DEFAULT_DATABASE_URL } from './mikro-orm.config';
import { parseShardMap, ShardMap } from './shard-map';

/** Where each organization's rows are: the partition count and the map of partitions to shards. */
export interface ShardConfig {
  /** `PARTITIONS`: every process (engine and gateway) must use the same count. */
  readonly partitions: number;
  /** `SHARDS` (or `SHARDS_FILE`) and `SHARD_MAP`; without SHARDS, the global home holds every partition. */
  readonly shards: ShardMap;
}

/**
 * `PARTITIONS`, `SHARDS` (or `SHARDS_FILE`: its URLs carry passwords) and `SHARD_MAP`, read the
 * same way by every process that reads organizations' rows (the engine, the gateway's payment
 * report): anything parseShardMap refuses stops the process at start, and with
 * NODE_ENV=production no shard may be the development database.
 */
export function loadShardConfig(env: NodeJS.ProcessEnv, databaseUrl: string): ShardConfig {
  const partitions = envInt(env, 'PARTITIONS', 64, 1, 4096);
  const shards = parseShardMap(envSetting(env, 'SHARDS'), env.SHARD_MAP, partitions, databaseUrl);
  if (env.NODE_ENV === 'production') {
    const local = [...shards.shards].filter(([, url]) => url === DEFAULT_DATABASE_URL).map(([name]) => name);
    if (envSetting(env, 'SHARDS') && local.length > 0) throw new Error(`SHARDS refused with NODE_ENV=production: shard ${local.join(', ')} is the development database ${DEFAULT_DATABASE_URL}`);
  }
  return { partitions, shards };
}
