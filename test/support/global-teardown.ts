import './library-aliases';
import { copyFileSync } from 'fs';
import { Client } from 'pg';
import { testRun } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  // TEST_NATS_LOG=<file> keeps the run's NATS log, where every permission NATS refused is written.
  if (testRun.testNats && process.env.TEST_NATS_LOG) copyFileSync(testRun.testNats.logFile, process.env.TEST_NATS_LOG);
  await testRun.testNats?.stop();
  const name = process.env.TEST_DATABASE_NAME;
  if (!name || process.env.KEEP_TEST_DATABASE) return;
  const client = new Client({ connectionString: process.env.TEST_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' });
  await client.connect();
  await client.query(`drop database if exists "${name}" with (force)`);
  await client.end();
}
