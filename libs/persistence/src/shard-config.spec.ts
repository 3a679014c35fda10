import { loadShardConfig } from './shard-config';
import { DEFAULT_DATABASE_URL } from './mikro-orm.config';

describe('loadShardConfig (the engine and the gateway read PARTITIONS, SHARDS, SHARD_MAP with it)', () => {
  const home = 'postgresql://billing@db-home/billing';

  it('without SHARDS: every partition in the home', () => {
    const config = loadShardConfig({ PARTITIONS: '8' }, home);
    expect(config.partitions).toBe(8);
    expect([...config.shards.shards]).toEqual([['home', home]]);
    expect(new Set(config.shards.byPartition)).toEqual(new Set(['home']));
  });

  it('reads SHARDS and SHARD_MAP against PARTITIONS, and refuses a map that does not cover them', () => {
    const env = { PARTITIONS: '8', SHARDS: 'a=postgresql://db-a/billing,b=postgresql://db-b/billing', SHARD_MAP: '0-3=a,4-7=b' };
    expect(loadShardConfig(env, home).shards.byPartition).toEqual(['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b']);
    expect(() => loadShardConfig({ ...env, PARTITIONS: '16' }, home)).toThrow('partitions 8-15 are mapped to no shard');
    expect(() => loadShardConfig({ ...env, PARTITIONS: '0' }, home)).toThrow('PARTITIONS must be an integer from 1 to 4096');
  });

  it('with NODE_ENV=production, refuses a shard at the development database', () => {
    const env = { NODE_ENV: 'production', PARTITIONS: '2', SHARDS: `a=${DEFAULT_DATABASE_URL},b=postgresql://db-b/billing`, SHARD_MAP: '0=a,1=b' };
    expect(() => loadShardConfig(env, home)).toThrow('SHARDS refused with NODE_ENV=production: shard a is the development database');
    expect(() => loadShardConfig({ ...env, NODE_ENV: 'development' }, home)).not.toThrow();
  });
});
