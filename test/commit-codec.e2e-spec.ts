import { Decimal, Grant, LedgerEntry, MeterState, WalletState } from '@billing/domain';
import {
  fromEntry,
  fromGrant,
  GRANT_COLUMNS,
  grantRow,
  HOLD_COLUMNS,
  holdRow,
  LEDGER_COLUMNS,
  ledgerRow,
  METER_COLUMNS,
  meterRow,
  openDatabase,
  OUTBOX_COLUMNS,
  outboxRow,
  WALLET_COLUMNS,
  walletRow,
} from '@billing/persistence';
import { sql, testDatabaseUrl } from './support/engine';

/**
 * The commit function reads each row it is given by position; libs/persistence/src/commit-codec.ts
 * names the column at each position and encodes the rows. This checks both sides of that contract:
 * the function, as the migrations left it in the database, reads position N into the column the
 * codec names at N, and each encoder puts at N the value of that column.
 */
const COLUMNS: Record<string, readonly string[]> = {
  p_wallets: WALLET_COLUMNS,
  p_entries: LEDGER_COLUMNS,
  p_grants: GRANT_COLUMNS,
  p_meters: METER_COLUMNS,
  p_events: OUTBOX_COLUMNS,
  p_holds: HOLD_COLUMNS,
};

/** Splits on the commas that are not inside parentheses. */
function topLevelList(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    else if (text[i] === ',' && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(text.slice(start).trim());
  return out;
}

interface Read {
  readonly param: string;
  readonly position: number;
  readonly column: string;
  readonly where: string;
}

/**
 * Every place the function reads a row position into a named column: each `select <list> from
 * jsonb_array_elements(p_<rows>) <alias>`, its list matched with the columns of the `insert into`
 * right before it, or with each item's `as <name>`.
 */
function readsOf(definition: string): Read[] {
  const reads: Read[] = [];
  for (const from of definition.matchAll(/\bfrom\s+jsonb_array_elements\((p_\w+)\)\s+(?:as\s+)?(\w+)/g)) {
    const [, param, alias] = from;
    const before = definition.slice(0, from.index);
    const selectAt = before.lastIndexOf('select ');
    const items = topLevelList(before.slice(selectAt + 'select '.length));
    const insert = /insert into (\w+) \(([^)]*)\)\s*$/s.exec(before.slice(0, selectAt));
    const columns = insert ? topLevelList(insert[1 + 1]) : null;
    if (columns) expect([insert![1], items.length]).toEqual([insert![1], columns.length]);
    items.forEach((item, i) => {
      // Only an item that is the position itself (cast or not); `org_partition(w->>0, ...) as p` is not a column.
      const position = new RegExp(`^(?:distinct\\s+)?\\(?${alias}->>?(\\d+)\\)?(?:::\\w+)?(?:\\s+as\\s+\\w+)?$`).exec(item);
      const named = /\s+as\s+(\w+)$/.exec(item);
      const column = columns ? columns[i] : named?.[1];
      if (position && column) reads.push({ param, position: Number(position[1]), column, where: insert ? `insert into ${insert[1]}` : 'select' });
    });
  }
  return reads;
}

describe('the commit function and its codec agree on every column', () => {
  it('reads each position into the column the codec names there', async () => {
    await (await openDatabase(testDatabaseUrl(), 2)).close(true); // applies the migrations
    // v4 writes the holds and hands everything else to v3, which it calls: the two read the positions.
    const [{ def }] = await sql<{ def: string }>("select pg_get_functiondef('commit_wallet_batch_v3(text,int,jsonb,jsonb,jsonb,jsonb,jsonb)'::regprocedure) as def");
    const [{ def: v4 }] = await sql<{ def: string }>("select pg_get_functiondef('commit_wallet_batch_v4(text,int,jsonb,jsonb,jsonb,jsonb,jsonb,jsonb)'::regprocedure) as def");
    expect(v4).toContain('commit_wallet_batch_v3(p_group, p_partitions, p_wallets, p_entries, p_grants, p_meters, p_events)');
    const reads = [...readsOf(def), ...readsOf(v4)];
    const wrong = reads.filter((r) => COLUMNS[r.param]?.[r.position] !== r.column).map((r) => `${r.where}: ${r.param}[${r.position}] read as ${r.column}, the codec says ${COLUMNS[r.param]?.[r.position]}`);
    expect(wrong).toEqual([]);
    // Every position the codec sends is written somewhere.
    for (const [param, columns] of Object.entries(COLUMNS)) {
      const read = new Set(reads.filter((r) => r.param === param).map((r) => r.position));
      expect([param, columns.filter((_, i) => !read.has(i))]).toEqual([param, []]);
    }
    // No older commit function is left behind in the schema.
    const others = await sql<{ name: string }>("select proname as name from pg_proc where proname like 'commit_wallet_batch%' and proname not in ('commit_wallet_batch_v3', 'commit_wallet_batch_v4')");
    expect(others).toEqual([]);
  });

  it('encodes at each position the value of the column named there', () => {
    const at = new Date('2026-12-03T10:11:12.345Z');
    const entry: LedgerEntry = {
      id: '00000000-0000-4000-8000-000000000001',
      orgId: 'org-codec',
      seq: 7,
      type: 'debit',
      amount: new Decimal('-1.23456789'),
      currency: 'USD',
      split: [{ grantId: '00000000-0000-4000-8000-000000000002', amount: new Decimal('-1.23456789') }],
      idempotencyKey: 'key-1',
      requestHash: 'hash-1',
      service: 'svc',
      workspaceId: 'ws',
      resourceId: 'res',
      description: 'desc',
      reference: 'ref',
      totalAfter: new Decimal('8.76543211'),
      usageMs: 3600000,
      usageUntil: new Date('2026-12-03T10:00:00.000Z'),
      at,
    };
    const grant: Grant = {
      id: '00000000-0000-4000-8000-000000000002',
      kind: 'voucher',
      amount: new Decimal('10'),
      remaining: new Decimal('8.76543211'),
      currency: 'USD',
      service: 'svc',
      expiresAt: new Date('2027-01-01T00:00:00.000Z'),
      createdAt: at,
      sourceRef: 'code-1',
      expiryNoticeAt: new Date('2026-12-30T00:00:00.000Z'),
      rollover: { cap: new Decimal('5'), periodMs: 86_400_000 },
    };
    const same = (values: unknown[], columns: readonly string[], record: Record<string, unknown>) => {
      const plain = (v: unknown) => (v instanceof Date ? v.toISOString() : v);
      expect(values).toHaveLength(columns.length);
      expect(Object.fromEntries(columns.map((c, i) => [c, plain(values[i])]))).toEqual(Object.fromEntries(columns.map((c) => [c, plain(record[c])])));
    };
    same(ledgerRow(entry), LEDGER_COLUMNS, fromEntry(entry) as unknown as Record<string, unknown>);
    same(grantRow('org-codec', grant), GRANT_COLUMNS, fromGrant('org-codec', grant) as unknown as Record<string, unknown>);

    const state = { orgId: 'org-codec', currency: 'USD', currencyLocked: true, seq: 7, grants: [grant] } as unknown as WalletState;
    same(walletRow('org-codec', state, 3, 42), WALLET_COLUMNS, { org_id: 'org-codec', currency: 'USD', currency_locked: true, version: 4, seq: 7, total: '8.76543211', epoch: 42 });
    const meter: MeterState = { charged: new Decimal('1.5'), usageMs: 60_000, until: at, entries: 2, byGrant: new Map([[grant.id, new Decimal('1.5')]]) };
    same(meterRow('org-codec', 'res', '2026-12-03', meter), METER_COLUMNS, { org_id: 'org-codec', resource_id: 'res', day: '2026-12-03', charged: '1.5', usage_ms: 60_000, until: at, entries: 2, by_grant: { [grant.id]: '1.5' } });
    same(outboxRow({ eventId: 'e-1', subject: 's', payload: 'p' }), OUTBOX_COLUMNS, { event_id: 'e-1', subject: 's', payload: 'p' });
    same(holdRow('org-codec', 'res', 'USD', { amount: new Decimal('2.5'), untilMs: at.getTime() }), HOLD_COLUMNS, { org_id: 'org-codec', resource_id: 'res', currency: 'USD', amount: '2.5', until: at });
  });
});
