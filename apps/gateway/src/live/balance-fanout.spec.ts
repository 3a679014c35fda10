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
});
