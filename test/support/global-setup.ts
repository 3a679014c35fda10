import './library-aliases';
import { execFileSync } from 'child_process';
import * as path from 'path';
import { Client } from 'pg';
import { rolePasswords, testNatsOptions } from './nats-roles';
import { startNats, TestNats } from './servers';

/** What global-teardown stops (Jest runs both in its main process). */
export const testRun = globalThis as typeof globalThis & { testNats?: TestNats };

/**
 * The test run makes its own database and drops it at the end, so it never touches anyone
 * else's data, and runs its own NATS with the shipped users and permissions
 * (config/nats/nats-server.conf), so every test connects as the role it plays and none depends on
 * a NATS of the machine. Their URLs and the role passwords reach the tests through the environment.
 */
export default async function globalSetup(): Promise<void> {
  // The portal the browser tests open is a build product (git-ignored): bundled here too, so `npx jest <one spec>` finds it.
  // In a process of its own, so that no esbuild service outlives the build in Jest's.
  execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'build-portal.js')], { stdio: 'inherit' });
  const admin = process.env.TEST_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const name = `billing_test_${Date.now()}_${process.pid}`;
  const client = new Client({ connectionString: admin });
  await client.connect();
  await client.query(`create database "${name}"`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  process.env.TEST_DATABASE_URL = url.toString();
  process.env.TEST_DATABASE_NAME = name;

  const passwords = rolePasswords();
  testRun.testNats = await startNats(testNatsOptions(passwords));
  Object.assign(process.env, passwords, { NATS_URL: testRun.testNats.url });
}
