import { MikroORM } from '@mikro-orm/postgresql';
import { ormConfig } from './mikro-orm.config';

/** Connects and brings the schema up to date: the engine applies its migrations on start. */
export async function openDatabase(databaseUrl: string, poolMax = 10): Promise<MikroORM> {
  const orm = await MikroORM.init(ormConfig(databaseUrl, poolMax));
  await orm.getMigrator().up();
  return orm;
}
