import { Logger } from '@nestjs/common';
import { SHARD_MAP_KEY, ShardMap, ShardMapRecord, shardMapDifferences, shardMapRecord } from '@billing/persistence';
import { KV } from 'nats';

/** JetStream's error code for a write whose expected revision is not the key's last one. */
const WRONG_LAST_SEQUENCE = 10071;

/** Whether this process's shard map is the one the engine processes serve with; read by /health. */
export class ShardMapStatus {
  /** Why this process takes no partition; null while its map is the recorded one. */
  refused: string | null = null;
}

/**
 * Every engine process must put each partition in the same database, or a process with another
 * map would take a partition's lease and write its organizations in the wrong shard. The lease
 * bucket holds the map the processes serve with (`shardmap`: a fingerprint of partition -> shard
 * -> host:port/database). A process whose map is that one renews the record with every lease
 * round (compare-and-set: it never overwrites another map); a process whose map differs takes no
 * partition, hands over those it holds, and says why. The move of a partition writes the new
 * map's record at its switch (`scripts/move-partition.js --step switch`).
 *
 * The bucket's entries live LEASE_TTL_MS: with no process serving for that long, the record is
 * gone and the first process to look writes its own. A process that has seen another map never
 * writes it (it was not restarted after a switch, or is the mistaken one).
 */
export class ShardMapGuard {
  private readonly logger = new Logger('ShardMapGuard');
  private readonly ours: ShardMapRecord;
  private readonly value: Uint8Array;
  private sawAnother = false;

  constructor(
    private readonly kv: KV,
    map: ShardMap,
    node: string,
    private readonly status: ShardMapStatus,
  ) {
    this.ours = shardMapRecord(map, node);
    this.value = Buffer.from(JSON.stringify(this.ours));
  }

  get refused(): boolean {
    return this.status.refused !== null;
  }

  /** Reads the record (and renews it if it is ours): whether this process may serve. A bucket that cannot be read leaves the verdict as it was. */
  async check(): Promise<boolean> {
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const entry = await this.kv.get(SHARD_MAP_KEY);
        if (entry?.operation !== 'PUT') {
          if (this.sawAnother) return this.refuse('the shard map record expired after another map was recorded; this process does not write its own (restart it with the engine processes\' SHARD_MAP)');
          const created = await this.kv.create(SHARD_MAP_KEY, this.value).then(
            () => true,
            () => false, // another process was quicker: read what it wrote
          );
          if (created) return this.accept();
          continue;
        }
        let theirs: ShardMapRecord | null = null;
        try {
          theirs = JSON.parse(Buffer.from(entry.value).toString('utf8')) as ShardMapRecord;
        } catch {
          theirs = null;
        }
        if (theirs?.fingerprint === this.ours.fingerprint) {
          await this.kv.update(SHARD_MAP_KEY, this.value, entry.revision).catch((error) => {
            if ((error as { api_error?: { err_code?: number } }).api_error?.err_code !== WRONG_LAST_SEQUENCE) throw error;
            // Renewed by another process meanwhile (or replaced: the next check reads it).
          });
          return this.accept();
        }
        this.sawAnother = true;
        const differences = theirs?.map ? shardMapDifferences(this.ours.map, theirs.map) : ['the record cannot be read'];
        return this.refuse(`this process's SHARDS/SHARD_MAP differ from the shard map the engine processes serve with (recorded by ${theirs?.by ?? '?'}): ${differences.slice(0, 10).join('; ')}`);
      }
    } catch (error) {
      this.logger.warn({ msg: 'shard map record not read; the next lease round reads it again', error: String((error as Error)?.message ?? error) });
    }
    return !this.refused;
  }

  private accept(): boolean {
    if (this.status.refused) this.logger.log({ msg: 'shard map now the recorded one: taking partitions again', fingerprint: this.ours.fingerprint });
    this.status.refused = null;
    return true;
  }

  private refuse(reason: string): boolean {
    if (this.status.refused !== reason) this.logger.error({ msg: 'shard map refused: this process takes no partition', reason, fingerprint: this.ours.fingerprint });
    this.status.refused = reason;
    return false;
  }
}
