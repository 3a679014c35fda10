import { createHash } from 'crypto';

/**
 * Which PostgreSQL database holds each partition's organizations (README, "PostgreSQL by
 * partition"). `SHARDS` names the databases (`a=postgres://...,b=postgres://...`), `SHARD_MAP`
 * gives each partition to one of them (`0-31=a,32-63=b`). Without `SHARDS` there is one shard,
 * the global home (`DATABASE_URL`), holding every partition: a one-database install is unchanged.
 */
export interface ShardMap {
  /** Shard name -> its database URL, in the order `SHARDS` names them. */
  readonly shards: ReadonlyMap<string, string>;
  /** The shard of each partition, by partition number. */
  readonly byPartition: readonly string[];
}

/** The name of the one shard of an install without `SHARDS`: the global home itself. */
export const HOME_SHARD = 'home';
/** At most this many shards (each is a pool of connections in every process serving it). */
export const MAX_SHARDS = 64;

const SHARD_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/** The map of an install without `SHARDS`: every partition in the global home. */
export function singleShardMap(databaseUrl: string, partitions: number): ShardMap {
  return { shards: new Map([[HOME_SHARD, databaseUrl]]), byPartition: Array.from({ length: partitions }, () => HOME_SHARD) };
}

/** A URL without its password, for messages and logs. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

/**
 * Reads `SHARDS` and `SHARD_MAP` against the partition count; anything but a map giving every
 * partition to exactly one named shard, and using every shard, stops the engine at start with
 * one message naming what is wrong.
 */
export function parseShardMap(shardsText: string | undefined, mapText: string | undefined, partitions: number, databaseUrl: string): ShardMap {
  if (!shardsText?.trim()) {
    if (mapText?.trim()) throw new Error('SHARD_MAP is set but SHARDS is not: name the shard databases in SHARDS (name=postgres://...)');
    return singleShardMap(databaseUrl, partitions);
  }
  const problems: string[] = [];
  const shards = new Map<string, string>();
  const urls = new Map<string, string>();
  for (const item of shardsText.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq).trim();
    const url = eq < 0 ? '' : item.slice(eq + 1).trim();
    if (!SHARD_NAME.test(name)) problems.push(`shard name ${JSON.stringify(name)} is not 1-32 of a-z 0-9 _ - starting with a letter`);
    else if (shards.has(name)) problems.push(`shard ${name} is named twice`);
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      problems.push(`shard ${name}: ${JSON.stringify(redactedUrl(url))} is not a postgres:// URL`);
    }
    if (parsed && !/^postgres(ql)?:$/.test(parsed.protocol)) problems.push(`shard ${name}: its URL must be postgres:// or postgresql://`);
    if (parsed && urls.has(url)) problems.push(`shards ${urls.get(url)} and ${name} are the same database`);
    shards.set(name, url);
    urls.set(url, name);
  }
  if (shards.size === 0) problems.push('SHARDS names no shard');
  if (shards.size > MAX_SHARDS) problems.push(`SHARDS names ${shards.size} shards, more than ${MAX_SHARDS}`);
  if (!mapText?.trim()) problems.push('SHARDS is set but SHARD_MAP is not: give every partition to a shard (e.g. 0-31=a,32-63=b)');
  const byPartition: (string | undefined)[] = Array.from({ length: partitions }, () => undefined);
  for (const item of (mapText ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^(\d+)(?:-(\d+))?=([^=]+)$/.exec(item);
    if (!m) {
      problems.push(`SHARD_MAP entry ${JSON.stringify(item)} is not <from>-<to>=<shard> or <partition>=<shard>`);
      continue;
    }
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    const name = m[3].trim();
    if (!shards.has(name)) problems.push(`SHARD_MAP entry ${item}: no shard named ${name} in SHARDS`);
    if (from > to || to >= partitions) {
      problems.push(`SHARD_MAP entry ${item}: partitions go from 0 to ${partitions - 1} (PARTITIONS=${partitions})`);
      continue;
    }
    for (let p = from; p <= to; p++) {
      if (byPartition[p] !== undefined) problems.push(`partition ${p} is mapped twice (${byPartition[p]} and ${name})`);
      else byPartition[p] = name;
    }
  }
  const unmapped = byPartition.flatMap((s, p) => (s === undefined ? [p] : []));
  if (mapText?.trim() && unmapped.length > 0) problems.push(`partitions ${ranges(unmapped)} are mapped to no shard`);
  // A shard holding no partition yet is allowed: a new one, named in SHARDS before partitions move to it (README, "Running at scale").
  // Deduplicated: a range mapped twice would name each of its partitions.
  if (problems.length > 0) throw new Error(`SHARDS / SHARD_MAP refused: ${[...new Set(problems)].slice(0, 20).join('; ')}`);
  return { shards, byPartition: byPartition as string[] };
}

/** `[0,1,2,5]` -> `0-2, 5`. */
function ranges(ps: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ps.length; ) {
    let j = i;
    while (j + 1 < ps.length && ps[j + 1] === ps[j] + 1) j++;
    out.push(i === j ? `${ps[i]}` : `${ps[i]}-${ps[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

/**
 * What every engine process must agree on about the shards (README, "PostgreSQL by partition"):
 * the shard of each partition, and the database each used shard is (host, port and database name:
 * never the user or password, which may differ from process to process).
 */
export interface ShardMapDescription {
  /** The shard name of each partition, by partition number. */
  readonly partitions: readonly string[];
  /** Each shard holding a partition -> `host:port/database`. */
  readonly shards: Readonly<Record<string, string>>;
}

/** `host:port/database` of a PostgreSQL URL (the port 5432 and the database the user's if not given). */
export function databaseIdentity(url: string): string {
  try {
    const u = new URL(url);
    const db = decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username);
    return `${u.hostname.toLowerCase()}:${u.port || '5432'}/${db}`;
  } catch {
    return '(not a URL)';
  }
}

export function describeShardMap(map: ShardMap): ShardMapDescription {
  const shards: Record<string, string> = {};
  for (const name of [...new Set(map.byPartition)].sort()) shards[name] = databaseIdentity(map.shards.get(name) ?? '');
  return { partitions: [...map.byPartition], shards };
}

/** A digest of the description: equal for two processes exactly when they put every partition in the same database. */
export function shardMapFingerprint(d: ShardMapDescription): string {
  const shards = Object.keys(d.shards).sort().map((k) => [k, d.shards[k]]);
  return createHash('sha256').update(JSON.stringify({ partitions: d.partitions, shards })).digest('hex').slice(0, 32);
}

/** What differs between this process's description (`ours`) and another (`theirs`), for one log line. */
export function shardMapDifferences(ours: ShardMapDescription, theirs: ShardMapDescription): string[] {
  const out: string[] = [];
  if (ours.partitions.length !== theirs.partitions.length) out.push(`PARTITIONS ${ours.partitions.length} here, ${theirs.partitions.length} in the record`);
  const moved = new Map<string, number[]>();
  for (let p = 0; p < Math.min(ours.partitions.length, theirs.partitions.length); p++) {
    if (ours.partitions[p] === theirs.partitions[p]) continue;
    const k = `${ours.partitions[p]} here, ${theirs.partitions[p]} in the record`;
    moved.set(k, [...(moved.get(k) ?? []), p]);
  }
  for (const [k, ps] of moved) out.push(`partitions ${ranges(ps)}: shard ${k}`);
  for (const name of Object.keys(ours.shards).sort()) {
    const theirsIs = theirs.shards[name];
    if (theirsIs !== undefined && theirsIs !== ours.shards[name]) out.push(`shard ${name} is ${ours.shards[name]} here, ${theirsIs} in the record`);
  }
  if (out.length === 0) out.push('the records differ');
  return out;
}

/** The key of the shard map record in the lease bucket (OWNERS_BUCKET): the map the engine processes serve with. */
export const SHARD_MAP_KEY = 'shardmap';

/** What the record holds: the fingerprint, and the description it is of (for naming differences), and who wrote it. */
export interface ShardMapRecord {
  readonly fingerprint: string;
  readonly map: ShardMapDescription;
  readonly by: string;
}

export function shardMapRecord(map: ShardMap, by: string): ShardMapRecord {
  const d = describeShardMap(map);
  return { fingerprint: shardMapFingerprint(d), map: d, by };
}

/**
 * The switch of a move (README, "Moving a partition"): records `map` (the new SHARD_MAP) as the one
 * the engine processes serve with. Processes with the old map stop taking partitions (and hand
 * theirs over) at their next lease round; processes restarted with this map serve.
 */
export async function recordShardMap(kv: { put(key: string, value: Uint8Array): Promise<unknown> }, map: ShardMap, by: string): Promise<ShardMapRecord> {
  const record = shardMapRecord(map, by);
  await kv.put(SHARD_MAP_KEY, Buffer.from(JSON.stringify(record)));
  return record;
}
