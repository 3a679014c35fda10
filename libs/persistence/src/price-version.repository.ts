import { parsePriceVersion, PriceVersion, priceVersionJson } from '@billing/domain';
import { MikroORM } from '@mikro-orm/postgresql';

/** The price versions recorded so far: the history every engine process prices usage with. */
export class PriceVersionRepository {
  constructor(private readonly orm: MikroORM) {}

  private get knex() {
    return this.orm.em.getConnection().getKnex();
  }

  async all(): Promise<PriceVersion[]> {
    const rows = (await this.knex.raw('select effective_from, catalog from price_versions order by effective_from')).rows as { effective_from: Date; catalog: unknown }[];
    return rows.map((r) => parsePriceVersion(`price version of ${new Date(r.effective_from).toISOString()}: `, r.catalog, new Date(r.effective_from).getTime()));
  }

  /** Records versions not recorded yet (one already there at the same instant is left as it is). */
  async record(versions: readonly PriceVersion[]): Promise<void> {
    if (versions.length === 0) return;
    await this.knex.raw(
      `insert into price_versions (effective_from, catalog) select (v->>0)::timestamptz, v->1 from jsonb_array_elements(?::jsonb) v on conflict (effective_from) do nothing`,
      [JSON.stringify(versions.map((v) => [new Date(v.effectiveFromMs).toISOString(), priceVersionJson(v)]))],
    );
  }
}
