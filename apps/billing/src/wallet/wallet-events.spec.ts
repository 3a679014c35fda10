import { Subjects } from '@billing/contracts';
import { Decimal, Grant, ResourceCharge, ResourceHold, WalletState } from '@billing/domain';
import { LoadedWallet } from '@billing/persistence';
import { BatchResult, Burning } from './wallet-batch';
import { stopCommands } from './wallet-events';

const orgId = 'acme';
const now = new Date('2027-01-02T10:00:00.000Z');

function wallet(total: string, seq: number): WalletState {
  const grant: Grant = { id: 'g-1', kind: 'topup', amount: new Decimal(total), remaining: new Decimal(total), currency: 'USD', service: null, expiresAt: null, createdAt: now, sourceRef: null };
  return { orgId, currency: 'USD', currencyLocked: true, seq, grants: [grant] };
}

const held = (...amounts: string[]) => new Map<string, ResourceHold>(amounts.map((a, i) => [`r-${i}`, { amount: new Decimal(a), untilMs: null }]));

function burning(resourceId: string, running: boolean): [string, Burning] {
  const charge: ResourceCharge = { resourceId, workspaceId: 'ws-1', service: 'gpu-container', sku: 'h100-1x', days: [], ratesPerHour: new Map(), running, hold: { amounts: new Map(), untilMs: null } };
  return [resourceId, { charge }];
}

function decide(before: { total: string; holds: Map<string, ResourceHold> }, after: { total: string; holds: Map<string, ResourceHold> }, overdraft = '0', at = now) {
  const loaded = { state: wallet(before.total, 1), holds: before.holds } as unknown as LoadedWallet;
  const result = { state: wallet(after.total, 2), burning: new Map([burning('r-run', true)]), now: at } as unknown as BatchResult;
  const ctx = { orgId, subjects: new Subjects('billing'), burning: new Map([burning('r-old', true), burning('r-stopped', false)]) };
  return stopCommands(ctx, loaded, result, after.holds, { before: new Decimal(overdraft), after: new Decimal(overdraft) });
}

describe('stop commands: when available crosses minus the overdraft', () => {
  it('sends one stop per running GPU when available (total less held) reaches zero, though the total has not', () => {
    const { messages, stops } = decide({ total: '3', holds: held('2.5') }, { total: '3', holds: held('2.5', '0.5') });
    expect(stops.map((s) => s.resourceId)).toEqual(['r-old', 'r-run']);
    expect(messages.filter((m) => m.subject === 'billing.control.acme.stop').map((m) => JSON.parse(m.payload).resourceId)).toEqual(['r-old', 'r-run']);
    expect(messages.filter((m) => m.subject === 'billing.events.acme.gpu_stop_requested')).toHaveLength(2);
  });

  it('gives the same command ids to the same batch decided again', () => {
    const a = decide({ total: '3', holds: held('2.5') }, { total: '3', holds: held('2.5', '1') });
    const b = decide({ total: '3', holds: held('2.5') }, { total: '3', holds: held('2.5', '1') });
    expect(a.stops.map((s) => s.commandId)).toEqual(b.stops.map((s) => s.commandId));
  });

  it('gives a new command to a new crossing at the same seq (a hold alone crossed: a GPU stopped and started again, no money moved)', () => {
    const first = decide({ total: '3', holds: held('2.5') }, { total: '3', holds: held('2.5', '1') });
    const again = decide({ total: '3', holds: held('2.5') }, { total: '3', holds: held('2.5', '1') }, '0', new Date(now.getTime() + 60_000));
    expect(again.stops.map((s) => s.commandId)).not.toEqual(first.stops.map((s) => s.commandId));
  });

  it('sends nothing above the threshold, nor again once below it', () => {
    expect(decide({ total: '3', holds: held() }, { total: '3', holds: held('2.99') }).stops).toEqual([]);
    expect(decide({ total: '3', holds: held('3') }, { total: '2', holds: held('3') }).stops).toEqual([]);
  });

  it('waits for the overdraft: at minus STOP_OVERDRAFT, not at zero', () => {
    expect(decide({ total: '3', holds: held() }, { total: '3', holds: held('3.5') }, '1').stops).toEqual([]);
    expect(decide({ total: '3', holds: held('3.5') }, { total: '2', holds: held('3') }, '1').stops.map((s) => s.resourceId)).toEqual(['r-old', 'r-run']);
  });
});
