import { Decimal } from '@billing/domain';
import { TopupProvider } from './entities/topup-intent.entity';
import { dateOfColumn, toIntent, TopupIntent, TopupIntentRecord } from './topup-intent-row';
import { SqlRepository } from './sql-repository';
import { MikroORM } from '@mikro-orm/postgresql';
import { partitionCondition } from './partitions';
import { Shards, ShardUnavailableError } from './shards';

/** Which top-ups the mismatch report reads, newest first. */
export interface TopupScan {
  readonly since: Date;
  readonly orgId: string | null;
  readonly provider: TopupProvider | null;
  /** The last top-up of the previous page (its `created_at` and id). */
  readonly before: { readonly createdAt: Date; readonly id: string } | null;
  readonly limit: number;
}

/** A ledger entry under a payment's key whose top-up this table does not have. */
export interface OrphanLedgerEntry {
  readonly orgId: string;
  readonly idempotencyKey: string;
  readonly type: string;
  readonly amount: string;
  readonly currency: string;
  readonly at: Date;
}

/** A shard the report could not read, and why (its URL's password left out). */
export interface ShardFailure {
  readonly shard: string;
  readonly error: string;
}

/** The ledger's net under each top-up's keys; the top-ups of a shard that could not be read are in `unread` (id -> shard), not in `nets`. */
export interface LedgerNets {
  readonly nets: Map<string, Decimal>;
  readonly unread: Map<string, string>;
  readonly failures: ShardFailure[];
}

/** Orphan entries found, and the shards that could not be read (their orphans unknown). */
export interface OrphanScan {
  readonly entries: OrphanLedgerEntry[];
  readonly failures: ShardFailure[];
}

/** A payment's ledger key: `topup:` or `reverse:`, the top-up's id, maybe `:<n>`. */
const PAYMENT_KEY = '^(topup|reverse):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(:|$)';

/**
 * The mismatch report's reads: top-ups a page at a time (in the global home), what the ledger
 * holds for each and ledger entries under a payment's key whose top-up is missing (in each
 * organization's shard, README "PostgreSQL by partition"). Reads only.
 */
export class TopupReportRepository extends SqlRepository {
  /** `orphanBatch`: a shard's payment entries read at once while looking for orphans (tests make it small). */
  constructor(home: MikroORM, private readonly shards: Shards, private readonly orphanBatch = ORPHAN_BATCH) {
    super(home);
  }

  /** Top-ups started since `scan.since`, newest first, a page at a time. */
  async scan(scan: TopupScan): Promise<TopupIntent[]> {
    const where = ['created_at >= ?'];
    const params: (string | number | Date)[] = [scan.since];
    if (scan.orgId !== null) {
      where.push('org_id = ?');
      params.push(scan.orgId);
    }
    if (scan.provider !== null) {
      where.push('provider = ?');
      params.push(scan.provider);
    }
    if (scan.before !== null) {
      where.push('(created_at, id) < (?, ?)');
      params.push(scan.before.createdAt, scan.before.id);
    }
    params.push(scan.limit);
    const rows = (await this.knex.raw(`select * from topup_intents where ${where.join(' and ')} order by created_at desc, id desc limit ?`, params)).rows as TopupIntentRecord[];
    return rows.map(toIntent);
  }

  /**
   * What the ledger holds for each top-up: the sum of its organization's entries under the
   * top-up's keys (`topup:<id>`, `topup:<id>:<n>`, `reverse:<id>:<n>` and the older `reverse:<id>`;
   * reversals are negative entries), read with SQL as an auditor would, in the organization's
   * shard: the top-ups grouped by shard, one query per shard for its (organization, top-up) pairs,
   * all at once. A shard that cannot be read leaves its top-ups out of `nets`, in `unread`.
   */
  async ledgerNet(intents: readonly Pick<TopupIntent, 'id' | 'orgId'>[]): Promise<LedgerNets> {
    const out: LedgerNets = { nets: new Map(), unread: new Map(), failures: [] };
    if (intents.length === 0) return out;
    const byShard = this.shards.group(intents, (i) => i.orgId);
    await Promise.all(
      [...byShard].map(async ([shard, list]) => {
        try {
          const knex = await this.shards.knex(shard);
          const rows = (
            await knex.raw(
              `select k.id::text as id, coalesce(sum(l.amount), 0)::text as net
                 from unnest(?::uuid[], ?::text[]) as k(id, org_id)
                 left join ledger_entries l on l.org_id = k.org_id
                  and (l.idempotency_key = 'topup:' || k.id::text or l.idempotency_key like 'topup:' || k.id::text || ':%'
                       or l.idempotency_key = 'reverse:' || k.id::text or l.idempotency_key like 'reverse:' || k.id::text || ':%')
                group by k.id`,
              // PostgreSQL array literals (knex would spread a JS array into a list); ids are uuids, org ids [A-Za-z0-9_-].
              [`{${list.map((i) => i.id).join(',')}}`, `{${list.map((i) => i.orgId).join(',')}}`],
            )
          ).rows as { id: string; net: string }[];
          for (const r of rows) out.nets.set(r.id, new Decimal(r.net));
        } catch (error) {
          out.failures.push(failureOf(shard, error));
          for (const i of list) out.unread.set(i.id, shard);
        }
      }),
    );
    return out;
  }

  /**
   * Ledger entries since `since` under a payment's key (`topup:<uuid>...`, `reverse:<uuid>...`,
   * which only the gateway's payment commands may use) whose top-up is not in the home's
   * topup_intents: each shard's entries (of the partitions it holds now: a moved partition's old
   * rows are left behind in its former shard) read there, their top-ups looked up in the home.
   * The newest `limit` of all shards; a shard that cannot be read is in `failures`.
   */
  async orphanLedgerEntries(since: Date, orgId: string | null, limit: number): Promise<OrphanScan> {
    const shards = orgId === null ? this.shards.names : [this.shards.shardOf(orgId)];
    const failures: ShardFailure[] = [];
    const found = await Promise.all(
      shards.map((shard) =>
        this.orphansIn(shard, since, orgId, limit).catch((error) => {
          failures.push(failureOf(shard, error));
          return [] as OrphanLedgerEntry[];
        }),
      ),
    );
    const entries = found.flat().sort((x, y) => y.at.getTime() - x.at.getTime()).slice(0, limit);
    return { entries, failures };
  }

  private async orphansIn(shard: string, since: Date, orgId: string | null, limit: number): Promise<OrphanLedgerEntry[]> {
    const orm = await this.shards.orm(shard);
    const knex = orm.em.getConnection().getKnex();
    const owned = this.shards.map.byPartition.flatMap((s, p) => (s === shard ? [p] : []));
    const held = partitionCondition('l.org_id', owned.length === this.shards.partitions ? undefined : { count: this.shards.partitions, owned });
    const columns = `l.org_id, l.idempotency_key, l.type, l.amount::text as amount, l.currency, l.created_at, l.created_at::text as at_text, l.seq::text as seq`;
    const where = `l.created_at >= ? and (?::text is null or l.org_id = ?) and ${held.sql} and l.idempotency_key ~ '${PAYMENT_KEY}'`;
    if (orm === this.orm) {
      // The shard is the home itself: its top-ups are beside its ledger, one query.
      const rows = (
        await knex.raw(
          `select ${columns} from ledger_entries l
            where ${where}
              and not exists (select 1 from topup_intents t where t.id = (case when l.idempotency_key ~ '${PAYMENT_KEY}' then split_part(l.idempotency_key, ':', 2)::uuid end))
            order by l.created_at desc limit ?`,
          [since, orgId, orgId, ...held.bindings, limit],
        )
      ).rows as OrphanRow[];
      return rows.map(orphanOf);
    }
    // Another database: its payment entries a batch at a time, newest first, each batch's top-ups
    // looked up in the home, until `limit` orphans or the window's end.
    const out: OrphanLedgerEntry[] = [];
    let after: { at: string; org: string; seq: string } | null = null;
    for (;;) {
      const rows = (
        await knex.raw(
          `select ${columns} from ledger_entries l
            where ${where} ${after ? 'and (l.created_at, l.org_id, l.seq) < (?::timestamptz, ?, ?::bigint)' : ''}
            order by l.created_at desc, l.org_id desc, l.seq desc limit ?`,
          [since, orgId, orgId, ...held.bindings, ...(after ? [after.at, after.org, after.seq] : []), this.orphanBatch],
        )
      ).rows as OrphanRow[];
      if (rows.length === 0) break;
      const ids = [...new Set(rows.map((r) => r.idempotency_key.split(':')[1]))];
      const known = new Set(((await this.knex.raw(`select id::text as id from topup_intents where id = any(?::uuid[])`, [`{${ids.join(',')}}`])).rows as { id: string }[]).map((r) => r.id));
      for (const r of rows) if (!known.has(r.idempotency_key.split(':')[1])) out.push(orphanOf(r));
      if (out.length >= limit || rows.length < this.orphanBatch) break;
      const last = rows[rows.length - 1];
      after = { at: last.at_text, org: last.org_id, seq: last.seq };
    }
    return out.slice(0, limit);
  }
}

/** Payment entries of a shard read at once while looking for orphans. */
const ORPHAN_BATCH = 1000;

interface OrphanRow {
  org_id: string;
  idempotency_key: string;
  type: string;
  amount: string;
  currency: string;
  created_at: Date | string;
  at_text: string;
  seq: string;
}

function orphanOf(r: OrphanRow): OrphanLedgerEntry {
  return { orgId: r.org_id, idempotencyKey: r.idempotency_key, type: r.type, amount: r.amount, currency: r.currency, at: dateOfColumn(r.created_at) };
}

function failureOf(shard: string, error: unknown): ShardFailure {
  const message = error instanceof ShardUnavailableError ? error.message : `shard ${shard} could not be read: ${String((error as Error)?.message ?? error)}`;
  return { shard, error: message.slice(0, 500) };
}
