import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, InputError, ORG_ID } from '@billing/contracts';
import { Decimal, viewOf } from '@billing/domain';
import { TOPUP_PROVIDERS, TopupIntent, TopupProvider, TopupReportRepository } from '@billing/persistence';
import { findMismatches, Mismatch, paypalRecord, ProviderRecord, stripeRecord, vnpayRecord } from './payment-mismatches';
import { PaymentsConfig } from './payments.config';
import { PaymentsMetrics } from './payments.metrics';
import { PAYMENTS_CONFIG } from './payments.tokens';
import { eachLimited, PaymentProviderLookup } from './payments.reconciler';
import { ProviderLookup } from './reconciliation';

/** Top-ups one page reads when the providers are asked (each is one call), and when they are not. */
export const MAX_MISMATCH_PAGE_WITH_PROVIDERS = 100;
export const MAX_MISMATCH_PAGE_LOCAL = 500;
export const DEFAULT_MISMATCH_PAGE = 50;
/** How far back the report reads by default, and at most. */
export const DEFAULT_MISMATCH_DAYS = 7;
export const MAX_MISMATCH_DAYS = 366;
/** Provider calls of one page at once. */
const LOOKUP_CONCURRENCY = 4;

export interface MismatchQuery {
  readonly since: Date;
  readonly orgId: string | null;
  readonly provider: TopupProvider | null;
  /** `provider`: ask each top-up's provider too; `local`: compare topup_intents with the ledger only. */
  readonly check: 'provider' | 'local';
  readonly before: { readonly createdAt: Date; readonly id: string } | null;
  readonly limit: number;
}

const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/** Reads the report's query string (each parameter once, as text); throws InputError. */
export function parseMismatchQuery(query: Record<string, unknown>, now = new Date()): MismatchQuery {
  const text = (name: string): string | null => {
    const v = query[name];
    if (v === undefined || v === '') return null;
    if (typeof v !== 'string') throw new InputError(ErrorCode.INVALID_FIELD, `'${name}' must be given once, as text`);
    return v;
  };
  const check = text('check') ?? 'provider';
  if (check !== 'provider' && check !== 'local') throw new InputError(ErrorCode.INVALID_FIELD, "'check' must be 'provider' (ask each provider too) or 'local'");
  const maxPage = check === 'provider' ? MAX_MISMATCH_PAGE_WITH_PROVIDERS : MAX_MISMATCH_PAGE_LOCAL;
  const rawLimit = text('limit');
  const limit = rawLimit === null ? DEFAULT_MISMATCH_PAGE : /^[0-9]{1,4}$/.test(rawLimit) ? Number(rawLimit) : NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > maxPage) throw new InputError(ErrorCode.INVALID_FIELD, `'limit' must be an integer from 1 to ${maxPage} (with check=${check})`);
  const oldest = new Date(now.getTime() - MAX_MISMATCH_DAYS * 86_400_000);
  const rawSince = text('since');
  let since = new Date(now.getTime() - DEFAULT_MISMATCH_DAYS * 86_400_000);
  if (rawSince !== null) {
    if (!ISO_UTC.test(rawSince) || Number.isNaN(Date.parse(rawSince))) throw new InputError(ErrorCode.INVALID_FIELD, "'since' must be an ISO-8601 UTC time such as 2026-12-01T00:00:00Z");
    since = new Date(rawSince);
    if (since < oldest) throw new InputError(ErrorCode.INVALID_FIELD, `'since' may go back at most ${MAX_MISMATCH_DAYS} days`);
  }
  const orgId = text('orgId');
  if (orgId !== null && !ORG_ID.test(orgId)) throw new InputError(ErrorCode.INVALID_ORG_ID, "'orgId' must be 1-64 characters of letters, digits, _ or -");
  const provider = text('provider');
  if (provider !== null && !(TOPUP_PROVIDERS as readonly string[]).includes(provider)) throw new InputError(ErrorCode.INVALID_FIELD, `'provider' must be one of ${TOPUP_PROVIDERS.join(', ')}`);
  const cursor = text('cursor');
  let before = null;
  if (cursor !== null) {
    const m = CURSOR.exec(cursor);
    if (!m || Number.isNaN(Date.parse(m[1]))) throw new InputError(ErrorCode.INVALID_FIELD, "'cursor' must be a nextCursor this report gave");
    before = { createdAt: new Date(m[1]), id: m[2] };
  }
  return { since, orgId, provider: provider as TopupProvider | null, check, before, limit };
}

function recordOf(lookup: ProviderLookup, intent: TopupIntent): ProviderRecord | null {
  switch (lookup.kind) {
    case 'stripe':
      return stripeRecord(lookup.pi, intent.currency);
    case 'paypal':
      return paypalRecord(lookup.order);
    case 'vnpay':
      return vnpayRecord(lookup.result);
    case 'not_found':
      return { found: false, state: lookup.detail.slice(0, 200) };
    default:
      return null;
  }
}

/**
 * The operators' mismatch report (`GET /api/v1/operator/payments/mismatches`): for each top-up
 * started in the window, newest first, what its provider says (unless `check=local`), its
 * `topup_intents` row (the settlement) and the ledger (the net of its organization's entries under
 * the top-up's keys, read with SQL) are compared (payment-mismatches.ts); the first page also
 * lists ledger entries under a payment's key whose top-up does not exist. The ledger is read in
 * each organization's shard (the same SHARDS, SHARD_MAP and PARTITIONS as the engine's); a shard
 * that cannot be read makes the report `complete: false`, naming it in `unreadShards`, its
 * top-ups `unchecked` (never "missing"), its orphans unknown. It changes nothing:
 * reconciliation and the sweep repair, an operator decides the rest.
 */
@Injectable()
export class PaymentMismatchReport {
  constructor(
    private readonly topups: TopupReportRepository,
    private readonly providers: PaymentProviderLookup,
    private readonly metrics: PaymentsMetrics,
    @Inject(PAYMENTS_CONFIG) private readonly config: PaymentsConfig,
  ) {}

  async report(query: MismatchQuery, now = new Date()) {
    const page = await this.topups.scan({ since: query.since, orgId: query.orgId, provider: query.provider, before: query.before, limit: query.limit });
    const ledger = await this.topups.ledgerNet(page);
    const records = new Map<string, ProviderRecord | null>();
    const unchecked: { topupId: string; provider: string; reason: string }[] = [];
    if (query.check === 'provider') {
      await eachLimited(page, LOOKUP_CONCURRENCY, async (intent) => {
        const lookup = await this.providers.lookup(intent);
        const record = recordOf(lookup, intent);
        records.set(intent.id, record);
        if (record === null) unchecked.push({ topupId: intent.id, provider: intent.provider, reason: lookup.kind === 'unreachable' ? lookup.detail.slice(0, 300) : lookup.kind });
      });
    }
    const mismatches: Record<string, unknown>[] = [];
    const found = (kind: string) => this.metrics.mismatches.inc({ kind });
    for (const intent of page) {
      // Its ledger's shard could not be read: not compared (a net of 0 would say "missing").
      const unreadShard = ledger.unread.get(intent.id);
      if (unreadShard !== undefined) {
        unchecked.push({ topupId: intent.id, provider: intent.provider, reason: `the ledger (shard ${unreadShard}) could not be read` });
        continue;
      }
      const view = viewOf(intent.settlement.facts);
      const ledgerNet = ledger.nets.get(intent.id) ?? new Decimal(0);
      const record = records.get(intent.id) ?? null;
      const list: Mismatch[] = findMismatches({
        status: intent.status,
        expiresAt: intent.expiresAt,
        updatedAt: intent.updatedAt,
        creditError: intent.creditError,
        changes: intent.settlement.changes,
        changesConfirmed: intent.changesConfirmed,
        view,
        ledgerNet,
        provider: record,
        now,
        // Twice what the sweep needs: it re-sends after its minimum age, every interval.
        ledgerBehindAfterMs: 2 * (this.config.sweepMinAgeMs + this.config.sweepIntervalMs),
        // The reconciliation's grace, and one of its runs.
        expiryOverdueAfterMs: this.config.reconcile.expiryGraceMs + Math.max(this.config.reconcile.intervalMs, 60_000),
      });
      for (const m of list) {
        found(m.kind);
        mismatches.push({
          kind: m.kind,
          detail: m.detail,
          topupId: intent.id,
          orgId: intent.orgId,
          provider: intent.provider,
          providerRef: intent.providerRef,
          status: intent.status,
          amount: intent.amount.toFixed(),
          currency: intent.currency,
          createdAt: intent.createdAt.toISOString(),
          settlement: { captured: view.captured.toFixed(), refunded: view.refunded.toFixed(), disputed: view.disputed.toFixed(), owed: view.owed.toFixed() },
          ledger: { net: ledgerNet.toFixed(), changes: intent.settlement.changes.length, confirmed: intent.changesConfirmed },
          providerRecord: record,
        });
      }
    }
    const orphans = query.before === null ? await this.topups.orphanLedgerEntries(query.since, query.orgId, MAX_MISMATCH_PAGE_LOCAL) : { entries: [], failures: [] };
    for (const o of orphans.entries) {
      found('ledger_without_topup');
      mismatches.push({ kind: 'ledger_without_topup', detail: `a ${o.type} of ${new Decimal(o.amount).toFixed()} ${o.currency} under ${o.idempotencyKey}, whose top-up does not exist`, orgId: o.orgId, idempotencyKey: o.idempotencyKey, amount: new Decimal(o.amount).toFixed(), currency: o.currency, createdAt: o.at.toISOString() });
    }
    const last = page.at(-1);
    // Shards that could not be read: their top-ups are unchecked, their orphans unknown.
    const failed = new Map<string, string>();
    for (const f of [...ledger.failures, ...orphans.failures]) if (!failed.has(f.shard)) failed.set(f.shard, f.error);
    return {
      ok: true as const,
      complete: failed.size === 0,
      unreadShards: [...failed].map(([shard, error]) => ({ shard, error })),
      scanned: page.length,
      check: query.check,
      since: query.since.toISOString(),
      mismatches,
      unchecked,
      nextCursor: page.length === query.limit && last ? `${last.createdAt.toISOString()}_${last.id}` : null,
    };
  }
}
