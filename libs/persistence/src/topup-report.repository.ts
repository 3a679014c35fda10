import { Decimal } from '@billing/domain';
import { TopupProvider } from './entities/topup-intent.entity';
import { dateOfColumn, toIntent, TopupIntent, TopupIntentRecord } from './topup-intent-row';
import { SqlRepository } from './sql-repository';

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

/** A payment's ledger key: `topup:` or `reverse:`, the top-up's id, maybe `:<n>`. */
const PAYMENT_KEY = '^(topup|reverse):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(:|$)';

/**
 * The mismatch report's reads: top-ups a page at a time, what the ledger holds for each, and
 * ledger entries under a payment's key whose top-up is missing. Reads only.
 */
export class TopupReportRepository extends SqlRepository {
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
   * reversals are negative entries), read with SQL as an auditor would.
   */
  async ledgerNet(intents: readonly Pick<TopupIntent, 'id' | 'orgId'>[]): Promise<Map<string, Decimal>> {
    const out = new Map<string, Decimal>();
    if (intents.length === 0) return out;
    const rows = (
      await this.knex.raw(
        `select t.id::text as id, coalesce(sum(l.amount), 0)::text as net
           from topup_intents t
           left join ledger_entries l on l.org_id = t.org_id
            and (l.idempotency_key = 'topup:' || t.id::text or l.idempotency_key like 'topup:' || t.id::text || ':%'
                 or l.idempotency_key = 'reverse:' || t.id::text or l.idempotency_key like 'reverse:' || t.id::text || ':%')
          where t.id = any(?::uuid[]) group by t.id`,
        // A PostgreSQL array literal (knex would spread a JS array into a list); the ids are uuids.
        [`{${intents.map((i) => i.id).join(',')}}`],
      )
    ).rows as { id: string; net: string }[];
    for (const r of rows) out.set(r.id, new Decimal(r.net));
    return out;
  }

  /**
   * Ledger entries since `since` under a payment's key (`topup:<uuid>...`, `reverse:<uuid>...`,
   * which only the gateway's payment commands may use) whose top-up is not in this table.
   */
  async orphanLedgerEntries(since: Date, orgId: string | null, limit: number): Promise<OrphanLedgerEntry[]> {
    const rows = (
      await this.knex.raw(
        `select l.org_id, l.idempotency_key, l.type, l.amount::text as amount, l.currency, l.created_at
           from ledger_entries l
          where l.created_at >= ? and (?::text is null or l.org_id = ?)
            and l.idempotency_key ~ '${PAYMENT_KEY}'
            and not exists (select 1 from topup_intents t where t.id = (case when l.idempotency_key ~ '${PAYMENT_KEY}' then split_part(l.idempotency_key, ':', 2)::uuid end))
          order by l.created_at desc limit ?`,
        [since, orgId, orgId, limit],
      )
    ).rows as { org_id: string; idempotency_key: string; type: string; amount: string; currency: string; created_at: Date | string }[];
    return rows.map((r) => ({ orgId: r.org_id, idempotencyKey: r.idempotency_key, type: r.type, amount: r.amount, currency: r.currency, at: dateOfColumn(r.created_at) }));
  }
}
