import { randomBytes } from 'crypto';
import { readFileSync } from 'fs';
import path from 'path';
import { connect, ConnectionOptions, NatsConnection } from 'nats';
import { freePort, NatsOptions, startNats, TestNats } from './servers';
import { asNamedOperator } from './operator';
import { NATS_ROLES, natsAuth, natsConnectionOptions, natsPasswordVariable, NatsRole } from '../../libs/messaging/src/nats-auth';

/** The configuration the repository ships, as a deployment runs it. */
export const SHIPPED_NATS_CONFIG = path.join(__dirname, '..', '..', 'config', 'nats', 'nats-server.conf');
/** One node of the shipped three-node cluster: includes the configuration above. */
export const SHIPPED_NATS_CLUSTER_CONFIG = path.join(__dirname, '..', '..', 'config', 'nats', 'nats-cluster-node.conf');

/**
 * A fresh password per role, as the server's environment and the processes' take them
 * (`NATS_PASSWORD_BILLING`, ...): letters and digits starting with a letter, which the server
 * reads as a string (see the config's header).
 */
export function rolePasswords(): Record<string, string> {
  return Object.fromEntries(NATS_ROLES.map((role) => [natsPasswordVariable(role), `p${randomBytes(18).toString('hex')}`]));
}

/**
 * The deployment names of the shipped config, and what a test server puts in their place: each
 * test has a subject prefix, streams and a bucket of its own (`isolatedNames`), so the test
 * server lets any single token stand where the shipped config names the defaults. Everything
 * else (users, which subjects and which JetStream calls each role may use, what each may not) is
 * the shipped config's, unchanged. test/nats-security.e2e-spec.ts runs the shipped file as it is.
 */
const DEPLOYMENT_NAMES: ReadonlyArray<readonly [RegExp, string]> = [
  [/"billing\./g, '"*.'],
  [/"gpu\.lifecycle\./g, '"*.lifecycle.'],
  [/\$KV\.BILLING_OWNERS\./g, '$KV.*.'],
  [/\.(BILLING_EVENTS|BILLING_CONTROL|GPU_LIFECYCLE|KV_BILLING_OWNERS)(?=[."])/g, '.*'],
];

/** The shipped config with the deployment names made wildcards (see `DEPLOYMENT_NAMES`). */
export function testNatsConfigText(): string {
  let text = readFileSync(SHIPPED_NATS_CONFIG, 'utf8');
  for (const [name, wildcard] of DEPLOYMENT_NAMES) {
    if (text.search(name) < 0) throw new Error(`${SHIPPED_NATS_CONFIG} no longer names ${name}: update DEPLOYMENT_NAMES in ${__filename}`);
    text = text.replace(name, wildcard);
  }
  return text;
}

/** The role passwords of this test run (global-setup put them in the environment). */
export function runPasswords(): Record<string, string> {
  return Object.fromEntries(NATS_ROLES.map((role) => natsPasswordVariable(role)).flatMap((name) => (process.env[name] ? [[name, process.env[name]!]] : [])));
}

/** `startNats` options for a server of a test's own with the test run's users and passwords. */
export function testNatsOptions(passwords = runPasswords()): NatsOptions {
  return { configText: testNatsConfigText(), env: passwords };
}

/**
 * A connection as `role` with the credentials in this process's environment (the test run's
 * server puts them there: test/support/global-setup.ts), the way that role's processes connect.
 * As `operator`, it names the test's operator on every request (test/support/operator.ts).
 */
export async function connectAs(role: NatsRole, options: Partial<ConnectionOptions> & { url?: string } = {}): Promise<NatsConnection> {
  const { url, ...rest } = options;
  const nc = await connect({ servers: url ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: `test-${role}`, ...natsConnectionOptions(natsAuth(role, process.env)), ...rest });
  return role === 'operator' ? asNamedOperator(nc) : nc;
}

/** The environment variable that carries `role`'s password, with its value here (for a child process). */
export function roleEnv(role: NatsRole): Record<string, string> {
  const name = natsPasswordVariable(role);
  return process.env[name] ? { [name]: process.env[name]! } : {};
}

/**
 * A NATS cluster of the test's own: `size` nats-servers on free ports, routes on loopback, each
 * running the shipped cluster node configuration around the test run's users (`testNatsConfigText`).
 */
export async function startTestNatsCluster(size = 3): Promise<TestNats[]> {
  const ports = new Set<number>();
  while (ports.size < 2 * size) ports.add(await freePort());
  const [clientPorts, clusterPorts] = [[...ports].slice(0, size), [...ports].slice(size)];
  const clusterPassword = `r${randomBytes(12).toString('hex')}`;
  const routes = Object.fromEntries(clusterPorts.map((port, i) => [`NATS_ROUTE_${i + 1}`, `nats-route://route:${clusterPassword}@127.0.0.1:${port}`]));
  const files = { 'nats-server.conf': testNatsConfigText() };
  const configText = readFileSync(SHIPPED_NATS_CLUSTER_CONFIG, 'utf8');
  const nodes: TestNats[] = [];
  try {
    for (let i = 0; i < size; i++) {
      const env = { ...runPasswords(), ...routes, NATS_SERVER_NAME: `node-${i}`, NATS_CLUSTER_LISTEN: `127.0.0.1:${clusterPorts[i]}`, NATS_CLUSTER_PASSWORD: clusterPassword };
      nodes.push(await startNats({ configText, files, env, port: clientPorts[i] }));
    }
  } catch (error) {
    for (const n of nodes) await n.stop();
    throw error;
  }
  return nodes;
}
