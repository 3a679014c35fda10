import { Currency, Grant, LedgerEntry, MeterState, ResourceHold, totalOf, WalletState } from '@billing/domain';

/**
 * The rows `commit_wallet_batch_v4` writes, as it reads them (v4 hands all but the holds to
 * `commit_wallet_batch_v3`, which it wraps): each row is a JSON array, and the function takes
 * position N of a row as the column named at position N here (wallets: the last position is the
 * writer's fence epoch, not a column). This file is the one place that knows
 * those positions; test/commit-codec.e2e-spec.ts reads the function from the database and checks
 * every position it reads against these lists, and every encoder against its list.
 */
export const WALLET_COLUMNS = ['org_id', 'currency', 'currency_locked', 'version', 'seq', 'total', 'epoch'] as const;
export const LEDGER_COLUMNS = [
  'id',
  'org_id',
  'seq',
  'type',
  'amount',
  'currency',
  'split',
  'idempotency_key',
  'request_hash',
  'service',
  'workspace_id',
  'resource_id',
  'description',
  'reference',
  'total_after',
  'usage_ms',
  'usage_until',
  'created_at',
] as const;
export const GRANT_COLUMNS = ['id', 'org_id', 'kind', 'amount', 'remaining', 'currency', 'service', 'expires_at', 'created_at', 'source_ref', 'expiry_notice_at', 'rollover_cap', 'rollover_period_ms'] as const;
export const METER_COLUMNS = ['org_id', 'resource_id', 'day', 'charged', 'usage_ms', 'until', 'entries', 'by_grant'] as const;
export const OUTBOX_COLUMNS = ['event_id', 'subject', 'payload'] as const;
/** A hold of zero deletes the resource's row (nothing held is no row). */
export const HOLD_COLUMNS = ['org_id', 'resource_id', 'currency', 'amount', 'until'] as const;

/** A row in a commit: one value per column of its list, in that order. */
export type Row = unknown[];

/**
 * Times as ISO strings before JSON.stringify sees them: a Date's `toJSON` takes the serializer
 * off its fast path, which made most of the commit's serializing cost.
 */
const iso = (d: Date | null) => (d === null ? null : d.toISOString());

/** The wallet's row after the batch: its version moves on by one from the one its actor loaded. */
export function walletRow(orgId: string, state: WalletState, expectedVersion: number, epoch: number): Row {
  return [orgId, state.currency, state.currencyLocked, expectedVersion + 1, state.seq, totalOf(state).toFixed(), epoch];
}

export function ledgerRow(e: LedgerEntry): Row {
  return [
    e.id,
    e.orgId,
    e.seq,
    e.type,
    e.amount.toFixed(),
    e.currency,
    e.split.map((p) => ({ grantId: p.grantId, amount: p.amount.toFixed() })),
    e.idempotencyKey,
    e.requestHash,
    e.service,
    e.workspaceId,
    e.resourceId,
    e.description,
    e.reference,
    e.totalAfter.toFixed(),
    e.usageMs,
    iso(e.usageUntil),
    e.at.toISOString(),
  ];
}

export function grantRow(orgId: string, g: Grant): Row {
  return [
    g.id,
    orgId,
    g.kind,
    g.amount.toFixed(),
    g.remaining.toFixed(),
    g.currency,
    g.service,
    iso(g.expiresAt),
    g.createdAt.toISOString(),
    g.sourceRef,
    iso(g.expiryNoticeAt ?? null),
    g.rollover ? g.rollover.cap.toFixed() : null,
    g.rollover ? g.rollover.periodMs : null,
  ];
}

export function meterRow(orgId: string, resourceId: string, day: string, meter: MeterState): Row {
  const byGrant: Record<string, string> = {};
  for (const [g, a] of meter.byGrant) byGrant[g] = a.toFixed();
  return [orgId, resourceId, day, meter.charged.toFixed(), meter.usageMs, iso(meter.until), meter.entries, byGrant];
}

export function outboxRow(e: { readonly eventId: string; readonly subject: string; readonly payload: string }): Row {
  return [e.eventId, e.subject, e.payload];
}

export function holdRow(orgId: string, resourceId: string, currency: Currency, hold: ResourceHold): Row {
  return [orgId, resourceId, currency, hold.amount.toFixed(), hold.untilMs === null ? null : new Date(hold.untilMs).toISOString()];
}
