import { describeShardMap, HOME_SHARD, parseShardMap, shardMapDifferences, shardMapFingerprint } from './shard-map';

const HOME = 'postgresql://postgres@127.0.0.1:5432/test';
const A = 'postgresql://billing:secret@db-a:5432/billing';
const B = 'postgresql://billing:secret@db-b:5432/billing';

describe('parseShardMap', () => {
  it('keeps every partition in the global home when SHARDS is not set', () => {
    const map = parseShardMap(undefined, undefined, 64, HOME);
    expect([...map.shards]).toEqual([[HOME_SHARD, HOME]]);
    expect(map.byPartition).toHaveLength(64);
    expect(new Set(map.byPartition)).toEqual(new Set([HOME_SHARD]));
  });

  it('gives each partition to the shard its range names', () => {
    const map = parseShardMap(`a=${A}, b=${B}`, '0-31=a,32-62=b,63=a', 64, HOME);
    expect(map.shards.get('a')).toBe(A);
    expect(map.byPartition[0]).toBe('a');
    expect(map.byPartition[31]).toBe('a');
    expect(map.byPartition[32]).toBe('b');
    expect(map.byPartition[62]).toBe('b');
    expect(map.byPartition[63]).toBe('a');
  });

  it('takes a shard that holds no partition yet (a new one, before partitions move to it)', () => {
    const map = parseShardMap(`a=${A},b=${B}`, '0-63=a', 64, HOME);
    expect(map.shards.get('b')).toBe(B);
    expect(new Set(map.byPartition)).toEqual(new Set(['a']));
  });

  it('lets the global home be a shard too', () => {
    expect(parseShardMap(`home=${HOME},b=${B}`, '0-7=home,8-15=b', 16, HOME).shards.get('home')).toBe(HOME);
  });

  it.each([
    ['a partition mapped to no shard', `a=${A},b=${B}`, '0-30=a,32-63=b', /partitions 31 are mapped to no shard/],
    ['a partition mapped twice', `a=${A},b=${B}`, '0-32=a,32-63=b', /partition 32 is mapped twice/],
    ['a partition past the count', `a=${A},b=${B}`, '0-31=a,32-64=b', /partitions go from 0 to 63/],
    ['an unknown shard', `a=${A},b=${B}`, '0-31=a,32-63=c', /no shard named c/],
    ['the same database twice', `a=${A},b=${A}`, '0-31=a,32-63=b', /shards a and b are the same database/],
    ['a name used twice', `a=${A},a=${B}`, '0-63=a', /shard a is named twice/],
    ['a URL that is not postgres', `a=${A},b=mysql://db-b/x`, '0-31=a,32-63=b', /must be postgres/],
    ['a malformed entry', `a=${A},b=${B}`, '0-31:a,32-63=b', /is not <from>-<to>=<shard>/],
    ['SHARDS without SHARD_MAP', `a=${A}`, undefined, /SHARD_MAP is not/],
    ['SHARD_MAP without SHARDS', undefined, '0-63=a', /SHARDS is not/],
  ])('refuses %s', (_what, shards, map, message) => {
    expect(() => parseShardMap(shards, map, 64, HOME)).toThrow(message);
  });

  it('never prints a shard password in a refusal', () => {
    expect(() => parseShardMap(`a=${A},b=${B}`, '0-31=a', 64, HOME)).toThrow(/^(?!.*secret).*$/s);
  });
});

describe('the shard map fingerprint', () => {
  const fp = (shards: string, map: string) => shardMapFingerprint(describeShardMap(parseShardMap(shards, map, 64, HOME)));

  it('is the same for the same partitions in the same databases, whoever connects and with what password', () => {
    const other = (u: string) => u.replace('billing:secret', 'engine2:other');
    expect(fp(`a=${A},b=${B}`, '0-31=a,32-63=b')).toBe(fp(`b=${other(B)},a=${other(A)}`, '32-63=b,0-31=a'));
  });

  it('differs when a partition is in another shard, or a shard in another database', () => {
    const base = fp(`a=${A},b=${B}`, '0-31=a,32-63=b');
    expect(fp(`a=${A},b=${B}`, '0-32=a,33-63=b')).not.toBe(base);
    expect(fp(`a=${A},b=${B.replace('db-b', 'db-c')}`, '0-31=a,32-63=b')).not.toBe(base);
    expect(fp(`a=${A},b=${B}`, '0-31=b,32-63=a')).not.toBe(base);
  });

  it('names the differences, without passwords', () => {
    const ours = describeShardMap(parseShardMap(`a=${A},b=${B}`, '0-32=a,33-63=b', 64, HOME));
    const theirs = describeShardMap(parseShardMap(`a=${A},b=${B.replace('db-b', 'db-c')}`, '0-31=a,32-63=b', 64, HOME));
    const d = shardMapDifferences(ours, theirs);
    expect(d).toEqual(['partitions 32: shard a here, b in the record', 'shard b is db-b:5432/billing here, db-c:5432/billing in the record']);
    expect(JSON.stringify(ours)).not.toContain('secret');
  });
});
