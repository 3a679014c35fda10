import { Client } from 'pg';

/**
 * Moving a partition's organizations from one shard to another (README, "Moving a partition"):
 * fence it in the shard it leaves, let the engine processes let go of it, copy its rows, switch
 * SHARD_MAP, verify. These are the database steps; `scripts/move-partition.js` runs them in order.
 */

/** Every table of one organization's rows, in an order that inserts cleanly, with the SQL naming the organization. */
export const ORGANIZATION_TABLES: readonly { readonly table: string; readonly org: string }[] = [
  { table: 'wallets', org: 'org_id' },
  { table: 'grants', org: 'org_id' },
  { table: 'ledger_entries', org: 'org_id' },
  { table: 'meters', org: 'org_id' },
  { table: 'holds', org: 'org_id' },
  { table: 'resources', org: 'org_id' },
  { table: 'stop_commands', org: 'org_id' },
  { table: 'workspace_budgets', org: 'org_id' },
  { table: 'ladder_settings', org: 'org_id' },
  { table: 'storage_suspensions', org: 'org_id' },
  // Its org_id is the organization its subject names (`<prefix>.events.<orgId>.<type>`).
  { table: 'outbox_events', org: 'org_id' },
];

export interface PartitionRef {
  /** The group of engine processes (OWNERS_BUCKET) whose fence is moved. */
  readonly group: string;
  /** PARTITIONS. */
  readonly partitions: number;
  readonly partition: number;
}

async function withClient<T>(url: string, use: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The columns copied: all but those the database numbers itself (the outbox's id). */
async function copiedColumns(c: Client, table: string): Promise<string[]> {
  const rows = (
    await c.query(
      `select column_name from information_schema.columns where table_schema = current_schema() and table_name = $1 and coalesce(column_default, '') not like 'nextval(%' order by ordinal_position`,
      [table],
    )
  ).rows as { column_name: string }[];
  if (rows.length === 0) throw new Error(`table ${table} not found`);
  return rows.map((r) => r.column_name);
}

const quoted = (cols: readonly string[]) => cols.map((c) => `"${c}"`).join(', ');

/**
 * The fence, in the shard the partition leaves: its epoch moves on once every write fenced by the
 * old one has ended, and it is marked moved there, so no engine process takes it there again.
 * Every later write of its old owner is refused; the owner lets go at its next fence check (within
 * a third of LEASE_TTL_MS). Returns the new epoch.
 */
export async function fencePartition(sourceUrl: string, ref: PartitionRef, targetShard: string): Promise<number> {
  return withClient(sourceUrl, async (c) => Number((await c.query('select move_partition_out($1, $2, $3) as epoch', [ref.group, ref.partition, targetShard])).rows[0].epoch));
}

/**
 * Copies the partition's rows from the source to the target, in one snapshot of the source and
 * one transaction of the target, with the fence (the target's epoch at least the source's, not
 * marked moved). Refuses a target that already holds a row of the partition. Returns the rows
 * copied per table.
 */
export async function copyPartition(sourceUrl: string, targetUrl: string, ref: PartitionRef, settleMs = 0): Promise<Record<string, number>> {
  return withClient(sourceUrl, (source) =>
    withClient(targetUrl, async (target) => {
      const copied: Record<string, number> = {};
      await source.query('begin isolation level repeatable read read only');
      await target.query('begin');
      try {
        const fence = (
          await source.query('select epoch, moved_to, (extract(epoch from now() - taken_at) * 1000)::bigint as age_ms from partition_epochs where "group" = $1 and partition = $2', [ref.group, ref.partition])
        ).rows[0] as { epoch: string; moved_to: string | null; age_ms: string } | undefined;
        if (!fence?.moved_to) throw new Error(`partition ${ref.partition} is not fenced in the source: run the fence step first`);
        // Until the old owner has let go (its lease run out), it may still publish and delete its outbox rows or end stop commands: a copy before that would bring them back.
        if (Number(fence.age_ms) < settleMs) throw new Error(`partition ${ref.partition} was fenced ${Math.round(Number(fence.age_ms) / 1000)} s ago: copy once the engine processes have let go (LEASE_TTL_MS and a second after the fence, ${Math.ceil(settleMs / 1000)} s)`);
        for (const { table, org } of ORGANIZATION_TABLES) {
          const cols = await copiedColumns(source, table);
          const where = `org_partition(${org}, $1) = $2`;
          const already = Number((await target.query(`select count(*)::int as n from "${table}" where ${where}`, [ref.partitions, ref.partition])).rows[0].n);
          if (already > 0) throw new Error(`the target already holds ${already} rows of partition ${ref.partition} in ${table}: nothing copied`);
          // As text, never parsed here: a JSON number read into JavaScript would lose a numeric's digits.
          const { n, rows } = (
            await source.query(`select count(*)::int as n, coalesce(json_agg(json_build_array(${quoted(cols)})), '[]'::json)::text as rows from "${table}" where ${where}`, [ref.partitions, ref.partition])
          ).rows[0] as { n: number; rows: string };
          copied[table] = n;
          if (n === 0) continue;
          // json_populate_record reads each row back with the table's own types (numeric, jsonb, arrays, timestamps).
          const obj = `json_build_object(${cols.map((c, i) => `'${c}', r->${i}`).join(', ')})`;
          await target.query(
            `insert into "${table}" (${quoted(cols)})
             select ${cols.map((c) => `p."${c}"`).join(', ')} from json_array_elements($1::json) r cross join lateral json_populate_record(null::"${table}", ${obj}) p`,
            [rows],
          );
        }
        await target.query(
          `insert into partition_epochs ("group", partition, epoch, node, moved_to) values ($1, $2, $3, 'moved-in', null)
           on conflict ("group", partition) do update set epoch = greatest(partition_epochs.epoch, excluded.epoch), node = excluded.node, moved_to = null, taken_at = now()`,
          [ref.group, ref.partition, fence.epoch],
        );
        await target.query('commit');
      } catch (error) {
        await target.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        await source.query('rollback').catch(() => undefined);
      }
      return copied;
    }),
  );
}

/** What the verify step compares, per table: how many rows, and a digest of them all (every copied column). */
async function digest(url: string, ref: PartitionRef): Promise<Record<string, { rows: number; digest: string }>> {
  return withClient(url, async (c) => {
    const out: Record<string, { rows: number; digest: string }> = {};
    for (const { table, org } of ORGANIZATION_TABLES) {
      const cols = await copiedColumns(c, table);
      const r = (
        await c.query(`select count(*)::int as n, coalesce(md5(string_agg(row(${quoted(cols)})::text, '|' order by row(${quoted(cols)})::text)), '') as d from "${table}" where org_partition(${org}, $1) = $2`, [ref.partitions, ref.partition])
      ).rows[0] as { n: number; d: string };
      out[table] = { rows: r.n, digest: r.d };
    }
    return out;
  });
}

/**
 * Verify: the partition's rows are the same in the source and the target, table by table (their
 * number and a digest of every copied column), and its money adds up the same (ledger, grants,
 * wallet totals). Returns the differences; none means the copy is exact.
 */
export async function verifyPartition(sourceUrl: string, targetUrl: string, ref: PartitionRef): Promise<string[]> {
  const [source, target] = await Promise.all([digest(sourceUrl, ref), digest(targetUrl, ref)]);
  const money = (url: string) =>
    withClient(url, async (c) =>
      JSON.stringify(
        (
          await c.query(
            `select (select coalesce(sum(amount), 0)::text from ledger_entries where org_partition(org_id, $1) = $2) as ledger,
                    (select coalesce(sum(remaining), 0)::text from grants where org_partition(org_id, $1) = $2) as grants,
                    (select coalesce(sum(total), 0)::text from wallets where org_partition(org_id, $1) = $2) as wallets`,
            [ref.partitions, ref.partition],
          )
        ).rows[0],
      ),
    );
  const differences: string[] = [];
  for (const { table } of ORGANIZATION_TABLES) {
    if (source[table].rows !== target[table].rows || source[table].digest !== target[table].digest) {
      differences.push(`${table}: ${source[table].rows} rows in the source, ${target[table].rows} in the target${source[table].rows === target[table].rows ? ' (contents differ)' : ''}`);
    }
  }
  const [m1, m2] = await Promise.all([money(sourceUrl), money(targetUrl)]);
  if (m1 !== m2) differences.push(`money: source ${m1}, target ${m2}`);
  return differences;
}
