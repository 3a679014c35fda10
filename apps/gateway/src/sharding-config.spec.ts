import { loadConfig } from '../../billing/src/config';
import { loadGatewayConfig } from './config';

/** The gateway reads PARTITIONS, SHARDS and SHARD_MAP as the engine does (one function, loadShardConfig). */
describe('the gateway\'s shard settings', () => {
  const base = { JWT_SECRET: 'gateway-test-secret-0123456789', OPERATOR_JWT_SECRET: 'operator-test-secret-0123456789', DATABASE_URL: 'postgresql://billing@db-home/billing' };
  const shards = { PARTITIONS: '8', SHARDS: 'a=postgresql://db-a/billing,b=postgresql://db-b/billing', SHARD_MAP: '0-3=a,4-7=b' };

  it('are the engine\'s', () => {
    const gateway = loadGatewayConfig({ ...base, ...shards });
    const engine = loadConfig({ ...base, ...shards });
    expect(gateway.sharding.partitions).toBe(engine.partitions);
    expect(gateway.sharding.shards).toEqual(engine.shards);
    expect(loadGatewayConfig(base).sharding.shards.byPartition).toHaveLength(64);
  });

  it('are refused as the engine refuses them', () => {
    const bad = { ...base, ...shards, SHARD_MAP: '0-3=a,4-6=b' };
    expect(() => loadConfig(bad)).toThrow('partitions 7 are mapped to no shard');
    expect(() => loadGatewayConfig(bad)).toThrow('partitions 7 are mapped to no shard');
  });
});
