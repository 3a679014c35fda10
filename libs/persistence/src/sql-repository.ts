import { MikroORM } from '@mikro-orm/postgresql';

/** A repository that reads and writes with SQL (knex) over the ORM's connection. */
export abstract class SqlRepository {
  constructor(protected readonly orm: MikroORM) {}

  protected get knex() {
    return this.orm.em.getConnection().getKnex();
  }
}
