import { BalanceFanout } from './balance-fanout';

describe('BalanceFanout', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('pushes at once when idle, then at most once per interval with the latest state', () => {
    const pushed: number[] = [];
    const fanout = new BalanceFanout<{ orgId: string; seq: number }>(100, (s) => pushed.push(s.seq), () => Date.now());
    fanout.offer({ orgId: 'a', seq: 1 });
    for (let seq = 2; seq <= 30; seq++) fanout.offer({ orgId: 'a', seq });
    expect(pushed).toEqual([1]);
    jest.advanceTimersByTime(100);
    expect(pushed).toEqual([1, 30]);
    jest.advanceTimersByTime(1000);
    expect(pushed).toEqual([1, 30]);
  });

  it('never pushes an older state after a newer one, and keeps organizations apart', () => {
    const pushed: string[] = [];
    const fanout = new BalanceFanout<{ orgId: string; seq: number }>(100, (s) => pushed.push(`${s.orgId}${s.seq}`), () => Date.now());
    fanout.offer({ orgId: 'a', seq: 5 });
    fanout.offer({ orgId: 'b', seq: 1 });
    fanout.offer({ orgId: 'a', seq: 4 });
    jest.advanceTimersByTime(200);
    fanout.offer({ orgId: 'a', seq: 3 });
    jest.advanceTimersByTime(200);
    expect(pushed).toEqual(['a5', 'b1']);
  });

  it('tells a change that follows one it never saw (a lost announcement) from one that follows what it has', () => {
    const fanout = new BalanceFanout<{ orgId: string; seq: number }>(100, () => undefined, () => Date.now());
    expect(fanout.missedBefore('a', 7)).toBe(false); // never seen: a joining socket reads the balance itself
    fanout.offer({ orgId: 'a', seq: 3 });
    expect(fanout.missedBefore('a', 3)).toBe(false);
    expect(fanout.missedBefore('a', 2)).toBe(false);
    fanout.offer({ orgId: 'a', seq: 5 }); // pending (within the interval): seen all the same
    expect(fanout.missedBefore('a', 5)).toBe(false);
    expect(fanout.missedBefore('a', 6)).toBe(true);
    expect(fanout.missedBefore('b', 6)).toBe(false);
  });

  it('pushes a later state of the same seq (a GPU started: its hold and burn changed, no money moved), never the same one twice', () => {
    const pushed: string[] = [];
    const fanout = new BalanceFanout<{ orgId: string; seq: number; at?: string }>(100, (s) => pushed.push(`${s.seq}@${s.at}`), () => Date.now());
    fanout.offer({ orgId: 'a', seq: 4, at: '2026-12-03T10:00:00.000Z' });
    fanout.offer({ orgId: 'a', seq: 4, at: '2026-12-03T10:00:00.000Z' });
    jest.advanceTimersByTime(200);
    fanout.offer({ orgId: 'a', seq: 4, at: '2026-12-03T10:00:01.000Z' });
    jest.advanceTimersByTime(200);
    fanout.offer({ orgId: 'a', seq: 4, at: '2026-12-03T10:00:00.500Z' });
    fanout.offer({ orgId: 'a', seq: 3, at: '2026-12-03T10:00:02.000Z' });
    jest.advanceTimersByTime(200);
    expect(pushed).toEqual(['4@2026-12-03T10:00:00.000Z', '4@2026-12-03T10:00:01.000Z']);
  });
});
