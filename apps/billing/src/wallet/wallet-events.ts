import { BalanceSnapshot, EventBodies, eventMessage, EventMessage, EventType, Subjects } from '@billing/contracts';
import { lowBalanceCrossings, totalOf, ZERO } from '@billing/domain';
import { LoadedWallet, OutboxMessage } from '@billing/persistence';
import { BatchResult, Burning } from './wallet-batch';

/** What the events of a batch read from its actor. */
export interface EventContext {
  readonly orgId: string;
  readonly subjects: Subjects;
  /** Resources that burn, as their meters said before this batch. */
  readonly burning: ReadonlyMap<string, Burning>;
}

/** The live announcement of a wallet's state, published on core NATS once it is committed (never stored). */
export function balanceEvent(ctx: EventContext, snapshot: BalanceSnapshot, previousSeq: number): EventMessage {
  return event(ctx, 'balance', { ...snapshot, previousSeq });
}

/**
 * The durable events a batch commits with its entries (published after the commit, through the
 * outbox): depletion, low-balance crossings, expired grants and expiry notices, when there are any.
 */
export function batchEvents(ctx: EventContext, before: LoadedWallet, result: BatchResult, snapshot: BalanceSnapshot): OutboxMessage[] {
  const { state, entries } = result;
  const totalBefore = totalOf(before.state);
  const totalAfter = totalOf(state);
  const events: OutboxMessage[] = [];
  if (totalBefore.greaterThan(ZERO) && !totalAfter.greaterThan(ZERO)) {
    const latest = new Map([...ctx.burning, ...result.burning]);
    const runningResources = [...latest.values()]
      .filter(({ charge }) => charge.running)
      .map(({ charge: c }) => ({ resourceId: c.resourceId, workspaceId: c.workspaceId, service: c.service, sku: c.sku }));
    events.push(
      event(ctx, 'depleted', {
        orgId: ctx.orgId,
        seq: state.seq,
        currency: state.currency,
        total: snapshot.total,
        exact: { total: totalAfter.toFixed() },
        runningResources,
        at: snapshot.at,
      }),
    );
  }
  for (const threshold of lowBalanceCrossings(totalBefore, totalAfter, before.lowBalanceThresholds).reverse()) {
    events.push(event(ctx, 'low_balance', { orgId: ctx.orgId, seq: state.seq, currency: state.currency, threshold: threshold.toFixed(), total: snapshot.total, exact: { total: totalAfter.toFixed() }, runwaySeconds: snapshot.runwaySeconds, at: snapshot.at }));
  }
  for (const e of entries) {
    if (e.type === 'expire') {
      events.push(event(ctx, 'grant_expired', { orgId: ctx.orgId, seq: e.seq, grantId: e.reference, service: e.service, amount: e.amount.negated().toFixed(), currency: e.currency, at: e.at.toISOString() }));
    }
  }
  for (const g of result.notices) {
    events.push(event(ctx, 'grant_expiring', { orgId: ctx.orgId, seq: state.seq, grantId: g.id, kind: g.kind, service: g.service, remaining: g.remaining.toFixed(), currency: g.currency, expiresAt: g.expiresAt?.toISOString(), at: result.now.toISOString() }));
  }
  return events;
}

function event<T extends EventType>(ctx: EventContext, type: T, body: EventBodies[T]): OutboxMessage {
  return eventMessage(ctx.subjects, ctx.orgId, type, body);
}
