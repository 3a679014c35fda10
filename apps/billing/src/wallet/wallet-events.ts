import { BalanceSnapshot, EventBodies, eventMessage, EventMessage, EventType, runwayLowEventId, STOP_REASON_AVAILABLE_EXHAUSTED, stopAnnouncementId, stopCommandId, stopCommandMessage, Subjects } from '@billing/contracts';
import { Decimal, lowBalanceCrossings, ResourceHold, runwayCrossings, totalHeld, totalOf, ZERO } from '@billing/domain';
import { LoadedWallet, OutboxMessage, StopRecord } from '@billing/persistence';
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

/**
 * The stop commands of a batch: when what the organization has available (total less everything
 * held, exact) goes from above minus `overdraft` to at or below it, one command per GPU resource
 * running as the latest meters say (a stopped one gets none), each announced by
 * `gpu_stop_requested`. Their ids come from (org, resource, the batch's seq and instant): each
 * crossing its own, a batch decided again the same ones. Written with the batch (outbox and `stop_commands`).
 */
export function stopCommands(
  ctx: EventContext,
  before: LoadedWallet,
  result: BatchResult,
  holdsAfter: ReadonlyMap<string, ResourceHold>,
  overdraft: { readonly before: Decimal; readonly after: Decimal },
): { messages: OutboxMessage[]; stops: StopRecord[] } {
  const { state } = result;
  if (state.currency === null) return { messages: [], stops: [] };
  const availableBefore = totalOf(before.state).minus(totalHeld([...before.holds.values()].map((h) => h.amount)));
  const availableAfter = totalOf(state).minus(totalHeld([...holdsAfter.values()].map((h) => h.amount)));
  // Each side with the overdraft in force then: lowering it under what is already available is a crossing too.
  const threshold = overdraft.after.negated();
  if (!(availableBefore.greaterThan(overdraft.before.negated()) && availableAfter.lessThanOrEqualTo(threshold))) return { messages: [], stops: [] };
  const latest = new Map([...ctx.burning, ...result.burning]);
  const at = result.now.toISOString();
  const messages: OutboxMessage[] = [];
  const stops: StopRecord[] = [];
  for (const { charge: c } of [...latest.values()].filter(({ charge }) => charge.running).sort((a, b) => (a.charge.resourceId < b.charge.resourceId ? -1 : 1))) {
    const commandId = stopCommandId(ctx.orgId, c.resourceId, state.seq, result.now.getTime());
    const reason = STOP_REASON_AVAILABLE_EXHAUSTED;
    messages.push(stopCommandMessage(ctx.subjects, { commandId, orgId: ctx.orgId, resourceId: c.resourceId, reason, at }));
    messages.push(
      eventMessage(
        ctx.subjects,
        ctx.orgId,
        'gpu_stop_requested',
        { orgId: ctx.orgId, seq: state.seq, commandId, resourceId: c.resourceId, workspaceId: c.workspaceId, sku: c.sku, reason, currency: state.currency, exact: { available: availableAfter.toFixed(), threshold: threshold.toFixed() }, at },
        stopAnnouncementId(commandId),
      ),
    );
    stops.push({ commandId, resourceId: c.resourceId, reason, requestedAt: result.now });
  }
  return { messages, stops };
}

/**
 * `runway_low` for each mark the runway crossed downwards in this batch (from its value before:
 * the total before at the burn before). Each carries an id derived from the organization, the mark
 * and the newest top-up, so it is one event until a top-up re-arms it: a process that warns again
 * (its burn unknown right after a restart) makes the same event, dropped downstream.
 */
export function runwayWarnings(ctx: EventContext, snapshot: BalanceSnapshot, before: number | null, marks: readonly number[], topupGrantId: string | null): OutboxMessage[] {
  return runwayCrossings(before, snapshot.runwaySeconds, marks).map((markSeconds) =>
    eventMessage(
      ctx.subjects,
      ctx.orgId,
      'runway_low',
      { orgId: ctx.orgId, seq: snapshot.seq, currency: snapshot.currency, markSeconds, runwaySeconds: snapshot.runwaySeconds, total: snapshot.total, burnRatePerHour: snapshot.burnRatePerHour, exact: { total: snapshot.exact.total, burnRatePerHour: snapshot.exact.burnRatePerHour }, at: snapshot.at },
      runwayLowEventId(ctx.orgId, markSeconds, topupGrantId),
    ),
  );
}

function event<T extends EventType>(ctx: EventContext, type: T, body: EventBodies[T]): OutboxMessage {
  return eventMessage(ctx.subjects, ctx.orgId, type, body);
}
