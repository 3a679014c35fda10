import { Currency, Decimal, EntryType, Grant, GrantKind, LedgerEntry } from '@billing/domain';

/** Postgres rows (snake_case, numerics as strings) to domain values and back. */
export interface GrantRecord {
  id: string;
  org_id: string;
  kind: string;
  amount: string;
  remaining: string;
  currency: string;
  service: string | null;
  expires_at: Date | string | null;
  created_at: Date | string;
  source_ref: string | null;
  expiry_notice_at?: Date | string | null;
  rollover_cap?: string | null;
  rollover_period_ms?: string | number | null;
}

export interface LedgerRecord {
  id: string;
  org_id: string;
  seq: string | number;
  type: string;
  amount: string;
  currency: string;
  split: { grantId: string; amount: string }[];
  idempotency_key: string;
  request_hash: string;
  service: string | null;
  workspace_id: string | null;
  resource_id: string | null;
  description: string | null;
  reference: string | null;
  total_after: string;
  usage_ms: string | number | null;
  usage_until: Date | string | null;
  created_at: Date | string;
}

const date = (v: Date | string) => (v instanceof Date ? v : new Date(v));

export function toGrant(r: GrantRecord): Grant {
  return {
    id: r.id,
    kind: r.kind as GrantKind,
    amount: new Decimal(r.amount),
    remaining: new Decimal(r.remaining),
    currency: r.currency as Currency,
    service: r.service,
    expiresAt: r.expires_at === null ? null : date(r.expires_at),
    createdAt: date(r.created_at),
    sourceRef: r.source_ref,
    expiryNoticeAt: r.expiry_notice_at ? date(r.expiry_notice_at) : null,
    rollover: r.rollover_cap ? { cap: new Decimal(r.rollover_cap), periodMs: Number(r.rollover_period_ms) } : null,
  };
}

export function fromGrant(orgId: string, g: Grant): GrantRecord {
  return {
    id: g.id,
    org_id: orgId,
    kind: g.kind,
    amount: g.amount.toFixed(),
    remaining: g.remaining.toFixed(),
    currency: g.currency,
    service: g.service,
    expires_at: g.expiresAt,
    created_at: g.createdAt,
    source_ref: g.sourceRef,
    expiry_notice_at: g.expiryNoticeAt ?? null,
    rollover_cap: g.rollover ? g.rollover.cap.toFixed() : null,
    rollover_period_ms: g.rollover ? g.rollover.periodMs : null,
  };
}

export function toEntry(r: LedgerRecord): LedgerEntry {
  return {
    id: r.id,
    orgId: r.org_id,
    seq: Number(r.seq),
    type: r.type as EntryType,
    amount: new Decimal(r.amount),
    currency: r.currency as Currency,
    split: r.split.map((p) => ({ grantId: p.grantId, amount: new Decimal(p.amount) })),
    idempotencyKey: r.idempotency_key,
    requestHash: r.request_hash,
    service: r.service,
    workspaceId: r.workspace_id,
    resourceId: r.resource_id,
    description: r.description,
    reference: r.reference,
    totalAfter: new Decimal(r.total_after),
    usageMs: r.usage_ms === null || r.usage_ms === undefined ? null : Number(r.usage_ms),
    usageUntil: r.usage_until === null || r.usage_until === undefined ? null : date(r.usage_until),
    at: date(r.created_at),
  };
}

export function fromEntry(e: LedgerEntry): LedgerRecord {
  return {
    id: e.id,
    org_id: e.orgId,
    seq: e.seq,
    type: e.type,
    amount: e.amount.toFixed(),
    currency: e.currency,
    split: e.split.map((p) => ({ grantId: p.grantId, amount: p.amount.toFixed() })),
    idempotency_key: e.idempotencyKey,
    request_hash: e.requestHash,
    service: e.service,
    workspace_id: e.workspaceId,
    resource_id: e.resourceId,
    description: e.description,
    reference: e.reference,
    total_after: e.totalAfter.toFixed(),
    usage_ms: e.usageMs,
    usage_until: e.usageUntil,
    created_at: e.at,
  };
}
