import { openDatabase } from '@billing/persistence';
import { sql, testDatabaseUrl } from './support/engine';

/**
 * Every per-organization table is keyed by organization, so that a distributed PostgreSQL (Citus,
 * distributing by org_id and co-locating the tables) could hold the schema unchanged (#17, item 2):
 * its primary key includes org_id, and so does every unique constraint or unique index, and every
 * foreign key to another per-organization table. A per-organization table is any table with an
 * org_id column that is not in GLOBAL below. Citus itself is not run here: this reads the catalog
 * the migrations leave.
 */

/**
 * Reference/global tables: kept whole in the global home (not distributed), so their keys need no
 * org_id. The gateway's (payments, plans, auto top-up, Stripe customers, webhooks), the vouchers, the
 * operator audit, the fencing epochs, the price catalog, the migrations' own table, the rejected
 * lifecycle events (no organization of their own: a malformed event may name none).
 */
const GLOBAL = [
  'auto_topup_attempts',
  'auto_topup_settings',
  'mikro_orm_migrations',
  'operator_action_outcomes',
  'operator_actions',
  'partition_epochs',
  'plan_subscriptions',
  'price_versions',
  'rejected_lifecycle_events',
  'stripe_customers',
  'topup_intents',
  'topup_refunds',
  'voucher_codes',
  'voucher_redemptions',
  'webhook_deliveries',
  'webhook_endpoints',
];

describe('every per-organization table is keyed by org_id (Citus-ready)', () => {
  beforeAll(async () => {
    await (await openDatabase(testDatabaseUrl(), 2)).close(true); // applies the migrations
  });

  it('each table is either per-organization (has org_id) or listed as global', async () => {
    const tables = (
      await sql<{ name: string; has_org: boolean }>(
        `select c.relname as name, exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'org_id' and not a.attisdropped) as has_org
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = current_schema() and c.relkind in ('r', 'p') order by 1`,
      )
    ).map((t) => ({ ...t }));
    // A table without org_id that is not listed global could hold no organization's rows in Citus.
    expect(tables.filter((t) => !t.has_org && !GLOBAL.includes(t.name)).map((t) => t.name)).toEqual([]);
    // The global list names only tables that exist (a renamed table would otherwise slip through).
    expect(GLOBAL.filter((g) => !tables.some((t) => t.name === g))).toEqual([]);
  });

  it('every primary key, unique index and foreign key of a per-organization table includes org_id', async () => {
    // Every unique index (primary keys and unique constraints are backed by one), with its columns.
    const indexes = await sql<{ table: string; index: string; primary: boolean; columns: string[] }>(
      `select t.relname as table, i.relname as index, x.indisprimary as primary,
              array(select coalesce(a.attname::text, '(expression)') from unnest(x.indkey::int2[]) with ordinality k(attnum, ord)
                    left join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum order by k.ord) as columns
         from pg_index x join pg_class t on t.oid = x.indrelid join pg_class i on i.oid = x.indexrelid join pg_namespace n on n.oid = t.relnamespace
        where n.nspname = current_schema() and x.indisunique and t.relkind in ('r', 'p') order by 1, 2`,
    );
    const perOrg = (
      await sql<{ name: string }>(
        `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = current_schema() and c.relkind in ('r', 'p')
            and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'org_id' and not a.attisdropped) order by 1`,
      )
    )
      .map((t) => t.name)
      .filter((t) => !GLOBAL.includes(t));
    expect(perOrg.length).toBeGreaterThan(5);

    const problems: string[] = [];
    for (const table of perOrg) {
      const own = indexes.filter((i) => i.table === table);
      const primary = own.find((i) => i.primary);
      if (!primary) problems.push(`${table}: no primary key`);
      else if (!primary.columns.includes('org_id')) problems.push(`${table}: primary key ${primary.index} (${primary.columns.join(', ')}) lacks org_id`);
      for (const i of own.filter((i) => !i.primary && !i.columns.includes('org_id'))) {
        problems.push(`${table}: unique index ${i.index} (${i.columns.join(', ')}) lacks org_id`);
      }
    }
    // A foreign key between per-organization tables must carry org_id on both sides (co-location);
    // one from a per-organization table to a global (reference) table is allowed.
    const fks = await sql<{ table: string; name: string; target: string; columns: string[]; refs: string[] }>(
      `select t.relname as table, c.conname as name, r.relname as target,
              array(select a.attname::text from unnest(c.conkey) k(attnum) join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum) as columns,
              array(select a.attname::text from unnest(c.confkey) k(attnum) join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum) as refs
         from pg_constraint c join pg_class t on t.oid = c.conrelid join pg_class r on r.oid = c.confrelid join pg_namespace n on n.oid = t.relnamespace
        where n.nspname = current_schema() and c.contype = 'f' order by 1, 2`,
    );
    for (const fk of fks) {
      const from = perOrg.includes(fk.table);
      const to = perOrg.includes(fk.target);
      if (to && !from) problems.push(`${fk.table}: foreign key ${fk.name} from a global table to the per-organization ${fk.target}`);
      if (from && to && !(fk.columns.includes('org_id') && fk.refs.includes('org_id'))) problems.push(`${fk.table}: foreign key ${fk.name} to ${fk.target} lacks org_id`);
    }
    expect(problems).toEqual([]);
  });
});
