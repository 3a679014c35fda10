import { readFileSync } from 'fs';
import path from 'path';
import { loadConfig } from './config';

/**
 * docker-compose.yml cannot be run here (no Docker daemon): what it tells the engine is checked
 * instead. Its engines' settings load with the engine's own config (SHARDS/SHARD_MAP parsed by
 * parseShardMap, every shard a PostgreSQL service of the file), and its three NATS nodes each
 * route to all three, as config/nats/nats-cluster-node.conf expects, with the engines listing
 * every node and keeping three copies.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml: { safeLoad(text: string): unknown } = require('js-yaml');

type Service = { image?: string; command?: string[]; environment?: Record<string, string>; volumes?: string[] };
const compose = yaml.safeLoad(readFileSync(path.join(__dirname, '..', '..', '..', 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
const services = compose.services;
/** Compose's `${NAME}` and `${NAME:?message}`, with made-up values (letters and digits, as the passwords must be). */
const interpolate = (value: string) => value.replace(/\$\{([A-Z_]+)(:\?[^}]*)?\}/g, (_, name: string) => `${name.toLowerCase().replace(/_/g, '')}1`);
const envOf = (service: Service) => Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
const natsNodes = Object.keys(services).filter((name) => services[name].command?.includes('/etc/nats/nats-cluster-node.conf'));
const engines = Object.keys(services).filter((name) => envOf(services[name]).SHARD_MAP !== undefined);

describe('docker-compose.yml', () => {
  it('runs three NATS nodes, each with its own name, routing to all three on the cluster port', () => {
    expect(natsNodes).toHaveLength(3);
    expect(new Set(natsNodes.map((n) => envOf(services[n]).NATS_SERVER_NAME))).toEqual(new Set(natsNodes));
    for (const node of natsNodes) {
      const env = envOf(services[node]);
      expect(env.NATS_CLUSTER_LISTEN).toBe('0.0.0.0:6222');
      const routes = [env.NATS_ROUTE_1, env.NATS_ROUTE_2, env.NATS_ROUTE_3].map((r) => new URL(r));
      expect(routes.map((r) => `${r.hostname}:${r.port}`).sort()).toEqual(natsNodes.map((n) => `${n}:6222`).sort());
      for (const route of routes) expect([route.protocol, route.username, route.password]).toEqual(['nats-route:', 'route', env.NATS_CLUSTER_PASSWORD]);
      // The node's config and the nats-server.conf it includes are both mounted where the command looks.
      expect(services[node].volumes).toContain('./config/nats:/etc/nats:ro');
    }
  });

  it('gives the engines two shards and the home on PostgreSQL services of its own, the three nodes and three copies', () => {
    expect(engines.sort()).toEqual(['engine', 'engine-2']);
    for (const name of engines) {
      const env = envOf(services[name]);
      const config = loadConfig(env);
      expect([...config.shards.shards.keys()]).toEqual(['a', 'b']);
      const databases = [config.databaseUrl, ...config.shards.shards.values()].map((url) => new URL(url).hostname);
      expect(new Set(databases).size).toBe(3);
      for (const host of databases) expect(services[host]?.image).toMatch(/^postgres:/);
      expect(config.shards.byPartition.filter((s) => s === 'a')).toHaveLength(32);
      expect(config.jetStreamReplicas).toBe(3);
      expect(config.natsUrl.split(',').map((u) => new URL(u).hostname).sort()).toEqual([...natsNodes].sort());
    }
  });
});
