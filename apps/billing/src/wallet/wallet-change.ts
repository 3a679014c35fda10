/**
 * What a decided batch commits, and what it announces once committed. Pure: the actor supplies
 * its state before the batch, the batch's result and how it draws a balance.
 */
import { BalanceSnapshot, EventMessage, Subjects } from '@billing/contracts';
import { Decimal, Grant, LadderSettings, ladderSettings, newestGrant, ResourceHold, runwaySeconds, stillBurning, StorageSuspension, totalBurnRatePerHour, totalHeld, totalOf, WalletState } from '@billing/domain';
import { LoadedWallet, WalletChange } from '@billing/persistence';
import { BatchResult, Burning, Holds } from './wallet-batch';
import { BudgetBook, budgetEvents } from './wallet-budgets';
import { balanceEvent, batchEvents, EventContext, runwayWarnings, stopCommands } from './wallet-events';
import { storageStep, StoredResource } from './wallet-ladder';

/** What the ladder's steps read: the engine's defaults (an organization's overrides apply), and the stored resources when a deletion is due. */
export interface LadderContext {
  readonly defaults: LadderSettings;
  readonly stored: readonly StoredResource[] | null;
}

export interface ChangeContext {
  readonly subjects: Subjects;
  readonly events: EventContext;
  readonly ladder: LadderContext;
  readonly budgets: BudgetBook;
  /** The balance as announced: the state, what it holds, what burns, where it stands on the ladder, at the batch's instant. */
  readonly snapshot: (state: WalletState, holds: Holds, burning: ReadonlyMap<string, Burning>, at: Date, ladder: { settings: LadderSettings; storage: StorageSuspension | null }) => BalanceSnapshot;
}

/**
 * The batch's commit (its state and entries, the grants they touched, the meters and holds it set,
 * its durable events) and the balance event announcing it. A batch announces when money moved or
 * a notice went out, and also when only what it holds or burns changed (a GPU started: its hold
 * and its rate; no money moves, the seq stays, and the event's later `at` tells it is newer).
 */
export function changeOf(ctx: ChangeContext, before: LoadedWallet, result: BatchResult, epoch: number): { change: WalletChange; announcement: EventMessage | null; storage: StorageSuspension | null } {
  const { state, entries } = result;
  const { orgId } = ctx.events;
  const touched = new Set([...entries.flatMap((e) => e.split.map((p) => p.grantId)), ...result.notices.map((g) => g.id)]);
  const grants: Grant[] = state.grants.filter((g) => touched.has(g.id));
  const meters = [...result.meters.values()];
  const holdsAfter = applyHolds(new Map(before.holds), result.holds);
  const burning = burningAfter(new Map(ctx.events.burning), result.burning);
  const moved = entries.length > 0 || result.notices.length > 0;
  const rate = (b: ReadonlyMap<string, Burning>) => totalBurnRatePerHour([...b.values()].map((x) => x.charge), state.currency);
  // Each summed once: a batch of an organization with many resources should not add them up again and again.
  const rateBefore = rate(ctx.events.burning);
  const rateAfter = rate(burning);
  // The ladder's settings before the batch and after it (a `ladder.set` of the batch applies to its own crossings).
  const settingsBefore = ladderSettings(ctx.ladder.defaults, before.ladder);
  const settings = result.ladder ? ladderSettings(ctx.ladder.defaults, result.ladder) : settingsBefore;
  const totalBefore = totalOf(before.state);
  const storage = storageStep({ orgId, subjects: ctx.subjects, state, totalBefore, totalAfter: totalOf(state), settingsBefore, settings, running: before.storage, moneyMoved: entries.length > 0, stored: ctx.ladder.stored, now: result.now });
  const reshaped = !moved && (!heldOf(before.holds).equals(heldOf(holdsAfter)) || !rateBefore.equals(rateAfter) || result.ladder !== null || storage.write !== null);
  // At the batch's instant: later than the last batch's (`WalletActor.instant`), so a reader tells a newer state of the same seq by it.
  const snapshot = moved || reshaped ? ctx.snapshot(state, holdsAfter, burning, result.now, { settings, storage: storage.after }) : null;
  // A hold alone (a new period, no charge yet) may cross the stop threshold too.
  const { messages: commands, stops } = stopCommands(ctx.events, before, result, holdsAfter, { before: settingsBefore.stopOverdraft, after: settings.stopOverdraft });
  const events = [...(snapshot && moved ? batchEvents(ctx.events, before, result, snapshot) : []), ...commands, ...storage.messages];
  // Only what burns has a runway to warn about: a wallet charged to zero with nothing running is `depleted`, not short of time.
  if (snapshot && !rateAfter.isZero()) events.push(...runwayWarnings(ctx.events, snapshot, runwaySeconds(totalBefore, rateBefore), settings.runwayMarks, topupOf(state)));
  events.push(...budgetEvents(ctx.subjects, orgId, ctx.budgets, state.currency, entries, result.now));
  const holds = [...result.holds].map(([resourceId, hold]) => ({ resourceId, hold }));
  return {
    change: {
      orgId,
      expectedVersion: before.version,
      epoch,
      state,
      entries,
      grants,
      meters,
      events,
      holds,
      stops: [...stops, ...storage.stops],
      ...(result.ladder ? { ladder: result.ladder } : {}),
      ...(storage.write ? { storage: storage.write } : {}),
    },
    announcement: snapshot ? balanceEvent(ctx.events, snapshot, before.state.seq) : null,
    storage: storage.after,
  };
}

/** Takes the holds a batch changed into `holds` (a released one leaves it). */
export function applyHolds(holds: Map<string, ResourceHold>, changed: ReadonlyMap<string, ResourceHold>): Map<string, ResourceHold> {
  for (const [resourceId, hold] of changed) {
    if (hold.amount.isZero()) holds.delete(resourceId);
    else holds.set(resourceId, hold);
  }
  return holds;
}

/** Takes what a batch's meters said into `burning`: a resource that no longer runs nor bills leaves it. */
export function burningAfter(burning: Map<string, Burning>, changed: ReadonlyMap<string, Burning>): Map<string, Burning> {
  for (const [resourceId, b] of changed) {
    if (stillBurning(b.charge)) burning.set(resourceId, b);
    else burning.delete(resourceId);
  }
  return burning;
}

/** What is held in all, for the balance. */
export function heldOf(holds: Holds): Decimal {
  return totalHeld([...holds.values()].map((h) => h.amount));
}

/** The newest top-up's grant id: what re-arms the runway warnings. */
function topupOf(state: WalletState): string | null {
  return newestGrant(state.grants.filter((g) => g.kind === 'topup'))?.id ?? null;
}
