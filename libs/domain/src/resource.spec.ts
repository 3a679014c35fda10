import { LifecycleStatus } from './lifecycle';
import { startOfUtcDay } from './metering';
import { applyLifecycle, LifecycleInput, LifecycleLimits, ResourceRecord, settled } from './resource';

const t0 = Date.parse('2026-11-27T10:00:00Z');
const HOUR = 3_600_000;
const limits: LifecycleLimits = { maxEvents: 3, maxFutureMs: 5 * 60_000, maxLatenessMs: 30 * 86_400_000, knowsSku: (sku) => sku === 'h100-1x' };
const input = (eventId: string, status: LifecycleStatus, ms: number, over: Partial<LifecycleInput> = {}): LifecycleInput => ({
  eventId, status, at: new Date(t0 + ms), workspaceId: 'ws', service: 'gpu-container', sku: 'h100-1x', storageGb: 100, ...over,
});

function apply(r: ResourceRecord | null, e: LifecycleInput, nowMs = t0 + 10 * HOUR): ResourceRecord {
  const d = applyLifecycle(r, 'o', 'r', e, nowMs, limits);
  if (d.kind !== 'applied') throw new Error(`${d.kind}: ${d.kind === 'rejected' ? d.reason : ''}`);
  return d.record;
}

describe('applying lifecycle events to a resource', () => {
  it('recomputes from the earliest instant an event changes, and not at all for a resource that never ran', () => {
    const pending = apply(null, input('p', 'PENDING', 0));
    expect(pending.recomputeFromMs).toBeNull();
    const running = apply(pending, input('a', 'RUNNING', HOUR));
    expect(running.recomputeFromMs).toBe(startOfUtcDay(t0 + HOUR));
    const done = settled(running, t0 + 30 * HOUR);
    expect(done.recomputeFromMs).toBe(startOfUtcDay(t0 + 30 * HOUR));
    // A late stop for an earlier instant moves the recomputation back to it.
    expect(apply(done, input('b', 'STOPPED', 2 * HOUR)).recomputeFromMs).toBe(startOfUtcDay(t0 + 2 * HOUR));
    // Charged today, and settled today: nothing moves, nothing to write.
    expect(settled(running, t0 + 5 * HOUR)).toBe(running);
  });

  it('takes an event without storageGb as saying nothing about the disk, and a disk learnt late re-bills storage from its start', () => {
    const r = apply(null, input('a', 'RUNNING', 0, { storageGb: null }));
    expect(r.storageGb).toBeNull();
    const stopped = settled(apply(r, input('b', 'STOPPED', HOUR, { storageGb: null })), t0 + 3 * HOUR);
    const told = apply(stopped, input('c', 'PENDING', 2 * HOUR));
    expect(told.storageGb).toBe(100);
    expect(told.recomputeFromMs).toBe(startOfUtcDay(t0));
  });

  it('always takes what ends billing, past the event limit or with attributes that disagree, and refuses the rest', () => {
    let r = apply(null, input('a', 'RUNNING', 0));
    r = apply(r, input('b', 'STOPPED', HOUR));
    r = apply(r, input('c', 'RUNNING', 2 * HOUR));
    expect(applyLifecycle(r, 'o', 'r', input('d', 'RUNNING', 3 * HOUR), t0 + 10 * HOUR, limits)).toMatchObject({ kind: 'rejected', code: 'TOO_MANY_EVENTS' });
    expect(applyLifecycle(r, 'o', 'r', input('d', 'PENDING', 3 * HOUR, { sku: 'other' }), t0 + 10 * HOUR, limits)).toMatchObject({ kind: 'rejected', code: 'RESOURCE_MISMATCH' });
    const stop = applyLifecycle(r, 'o', 'r', input('e', 'STOPPED', 3 * HOUR, { sku: 'a100-1x', storageGb: 0 }), t0 + 10 * HOUR, limits);
    expect(stop).toMatchObject({ kind: 'applied', note: expect.stringContaining('sku h100-1x -> a100-1x') });
    if (stop.kind !== 'applied') return;
    expect(stop.record.sku).toBe('h100-1x');
    expect(stop.record.periods.running).toBe(false);
    expect(applyLifecycle(stop.record, 'o', 'r', input('f', 'DELETED', 4 * HOUR, { workspaceId: 'other' }), t0 + 10 * HOUR, limits)).toMatchObject({ kind: 'applied' });
  });

  it('refuses events stamped far ahead of the clock or beyond the lateness limit, an unknown SKU, and a changed attribute that does not end billing', () => {
    const now = t0 + 10 * HOUR;
    expect(applyLifecycle(null, 'o', 'r', input('a', 'RUNNING', 10 * HOUR + 6 * 60_000), now, limits)).toMatchObject({ kind: 'rejected', code: 'OUT_OF_RANGE' });
    expect(applyLifecycle(null, 'o', 'r', input('a', 'RUNNING', -31 * 86_400_000), now, limits)).toMatchObject({ kind: 'rejected', code: 'OUT_OF_RANGE' });
    expect(applyLifecycle(null, 'o', 'r', input('a', 'RUNNING', 0, { sku: 'nope' }), now, limits)).toMatchObject({ kind: 'rejected', code: 'UNKNOWN_SKU' });
    const r = apply(null, input('a', 'RUNNING', 0));
    expect(applyLifecycle(r, 'o', 'r', input('b', 'RUNNING', HOUR, { workspaceId: 'ws-2' }), now, limits)).toMatchObject({ kind: 'rejected', code: 'RESOURCE_MISMATCH' });
    expect(applyLifecycle(r, 'o', 'r', input('a', 'RUNNING', 0), now, limits)).toEqual({ kind: 'duplicate' });
  });

  it('is settled for good once deleted and charged up to its end', () => {
    let r = apply(null, input('a', 'RUNNING', 0));
    r = apply(r, input('b', 'DELETED', HOUR));
    expect(settled(r, t0 + 2 * HOUR).recomputeFromMs).toBeNull();
    // A stop stamped a little ahead of the clock is not yet settled.
    expect(settled(apply(apply(null, input('a', 'RUNNING', 0)), input('b', 'STOPPED', HOUR)), t0 + HOUR - 1).recomputeFromMs).not.toBeNull();
  });
});
