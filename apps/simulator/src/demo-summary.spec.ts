import { DemoSummary, OrgRow } from './demo-summary';

const balance = { currency: 'USD', total: '0.75', plan: '0.25', voucher: '0.20', topup: '0.30', burnRatePerHour: '42.73', exact: { total: '0.7512' } };

describe('DemoSummary', () => {
  it('prints one line per organization with what happened since the last summary, counting resource actions instead of listing them', () => {
    const summary = new DemoSummary(0);
    summary.note('org-0', 'topped up 0.30');
    summary.note('org-0', 'DEPLETED');
    summary.note('org-0', 'DEPLETED');
    for (let i = 0; i < 17; i++) summary.count('org-0', 'started');
    for (let i = 0; i < 16; i++) summary.engineStopped('org-0', 'available_exhausted');
    summary.engineStopped('org-10', 'available_exhausted');
    summary.count('org-1', 'refused');
    const rows: OrgRow[] = [
      { orgId: 'org-0', balance, running: 17 },
      { orgId: 'org-10', balance: null, running: 2 },
    ];
    expect(summary.lines(rows, 65_000)).toEqual([
      '[demo 1:05] org-0  USD 0.75 (plan 0.25, voucher 0.20, top-up 0.30) burn 42.73/h, 17 running | topped up 0.30 · DEPLETED · engine stopped 16 GPUs: available exhausted · 17 started',
      '[demo 1:05] org-10 balance not answered, 2 running | engine stopped 1 GPU: available exhausted',
    ]);
    // Said once: the next summary has no news.
    expect(summary.lines(rows, 70_000)[0]).toBe('[demo 1:10] org-0  USD 0.75 (plan 0.25, voucher 0.20, top-up 0.30) burn 42.73/h, 17 running');
  });

  it('gives the demo a line of its own only when it has news, and keeps a busy line short', () => {
    const summary = new DemoSummary(0);
    const rows: OrgRow[] = [{ orgId: 'org-0', balance, running: 0 }];
    expect(summary.lines(rows, 1000)).toHaveLength(1);
    summary.note('', 'cycle 2: engine away');
    for (let i = 0; i < 9; i++) summary.note('org-0', `news ${i}`);
    const [general, line] = summary.lines(rows, 2000);
    expect(general).toBe('[demo 0:02] cycle 2: engine away');
    expect(line).toMatch(/\| news 0 · news 1 · news 2 · news 3 · news 4 · \+4 more$/);
  });
});
