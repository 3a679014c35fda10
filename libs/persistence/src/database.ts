import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { ormConfig } from './mikro-orm.config';

/** Advisory lock key under which migrations run: processes starting together migrate one at a time. */
export const MIGRATION_LOCK_KEY = 726_150_001;

/**
 * Connects and brings the schema up to date: every process of the engine applies the migrations
 * on start, one process at a time (a session advisory lock, held on a connection of its own).
 */
export async function openDatabase(databaseUrl: string, poolMax = 10): Promise<MikroORM> {
  const orm = await MikroORM.init(ormConfig(databaseUrl, poolMax));
  const lock = new Client({ connectionString: databaseUrl });
  await lock.connect();
  try {
    await lock.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await orm.getMigrator().up();
  } finally {
    await lock.end().catch(() => undefined); // ending the session releases the lock
  }
  return orm;
}
