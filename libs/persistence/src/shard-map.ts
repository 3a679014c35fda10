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
