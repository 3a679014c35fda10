import fc from 'fast-check';
import { billingPeriods, LifecycleEvent, LifecycleStatus } from './lifecycle';

const t0 = Date.parse('2026-11-27T10:00:00Z');
const ev = (eventId: string, status: LifecycleStatus, ms: number): LifecycleEvent => ({ eventId, status, at: new Date(t0 + ms) });

describe('billing periods', () => {
  it('gives the same periods whatever order the events arrive in, same-instant events included', () => {
    const statuses: LifecycleStatus[] = ['PENDING', 'RUNNING', 'STOPPING', 'STOPPED', 'FAILED', 'DELETED'];
    const events = fc.array(fc.tuple(fc.constantFrom(...statuses), fc.integer({ min: 0, max: 6 })), { minLength: 1, maxLength: 12 }).map((xs) => xs.map(([s, t], i) => ev(`e${i}`, s, t * 1000)));
    fc.assert(
      fc.property(events.chain((es) => fc.tuple(fc.constant(es), fc.shuffledSubarray(es, { minLength: es.length, maxLength: es.length }))), ([es, shuffled]) => {
        expect(billingPeriods(shuffled)).toEqual(billingPeriods(es));
      }),
    );
  });

  it('keeps a resource running through a stop and a restart stamped with the same instant', () => {
    const p = billingPeriods([ev('a', 'RUNNING', 0), ev('b', 'STOPPED', 1000), ev('c', 'RUNNING', 1000)]);
    expect(p.running).toBe(true);
    expect(p.gpu).toEqual([{ startMs: t0, endMs: null }]);
  });

  it('leaves a stopped resource stopped after a start and a stop stamped with the same instant, with its storage started', () => {
    const p = billingPeriods([ev('a', 'RUNNING', 1000), ev('b', 'STOPPING', 1000), ev('c', 'STOPPED', 1000)]);
    expect(p.running).toBe(false);
    expect(p.gpu).toEqual([]);
    expect(p.storage).toEqual({ startMs: t0 + 1000, endMs: null });
  });

  it('ends everything at DELETED and ignores what comes after it', () => {
    const p = billingPeriods([ev('a', 'RUNNING', 0), ev('b', 'DELETED', 5000), ev('c', 'RUNNING', 6000)]);
    expect(p).toEqual({ gpu: [{ startMs: t0, endMs: t0 + 5000 }], storage: { startMs: t0, endMs: t0 + 5000 }, running: false, deleted: true });
  });
});
