import { Balance, Decimal } from '@billing/domain';
import { balanceSnapshot, usageView } from './wallet-replies';

function balance(plan: string, voucher: string, topup: string): Balance {
  const [p, v, t] = [plan, voucher, topup].map((x) => new Decimal(x));
  return { plan: p, voucher: v, topup: t, total: p.plus(v).plus(t) };
}

const at = new Date('2026-11-27T10:00:00Z');

describe('balance snapshot', () => {
  it('shows components that add up to the total shown, top-up debt included', () => {
    const s = balanceSnapshot({ orgId: 'o', seq: 1, currency: 'USD', balance: balance('3.335', '1.335', '-0.004'), burnRatePerHour: new Decimal('0.001'), grants: [], at });
    // 3.34 + 1.34 + 0.00 would read 4.68: the unit too many comes off plan (a tie with voucher, plan first).
    expect([s.total, s.plan, s.voucher, s.topup]).toEqual(['4.67', '3.33', '1.34', '0.00']);
    expect(s.exact).toMatchObject({ total: '4.666', plan: '3.335', voucher: '1.335', topup: '-0.004' });
    expect(s.burnRatePerHour).toBe('0.00');
  });

  it('never shows -0 for a small debt', () => {
    const s = balanceSnapshot({ orgId: 'o', seq: 1, currency: 'VND', balance: balance('0', '0', '-0.3'), burnRatePerHour: new Decimal('-0'), grants: [], at });
    expect([s.total, s.plan, s.voucher, s.topup, s.burnRatePerHour]).toEqual(['0', '0', '0', '0', '0']);
  });

  it('shows what is held and what is available, apportioned to read as the total shown, exact too', () => {
    const s = balanceSnapshot({ orgId: 'o', seq: 1, currency: 'USD', balance: balance('0', '0', '10.005'), burnRatePerHour: new Decimal('2.5'), grants: [], at, held: new Decimal('2.08333333') });
    expect(s.exact).toMatchObject({ held: '2.08333333', available: '7.92166667', total: '10.005' });
    expect([s.total, s.available, s.held]).toEqual(['10.00', '7.92', '2.08']);
    const over = balanceSnapshot({ orgId: 'o', seq: 1, currency: 'USD', balance: balance('0', '0', '1'), burnRatePerHour: new Decimal('2.5'), grants: [], at, held: new Decimal('2.5') });
    expect([over.available, over.held, over.exact.available]).toEqual(['-1.50', '2.50', '-1.5']);
  });

  it('shows exact amounts before the wallet has a currency', () => {
    const s = balanceSnapshot({ orgId: 'o', seq: 0, currency: null, balance: balance('0', '1.005', '0'), burnRatePerHour: new Decimal(0), grants: [], at });
    expect([s.total, s.plan, s.voucher, s.topup]).toEqual(['1.005', '0', '1.005', '0']);
  });
});

describe('usage view', () => {
  it('adds a display amount to each row and sums per workspace exactly before rounding once', () => {
    const row = (workspaceId: string, amount: string, gpuHours: string) => ({ workspaceId, service: 'gpu-container', resourceId: 'r', day: '2026-11-27', amount, gpuHours });
    const view = usageView([row('ws-1', '0.004', '0.001'), row('ws-1', '0.004', '0.004'), row('ws-2', '1.5', '0.6')], 'USD');
    expect(view.currency).toBe('USD');
    expect(view.usage.map((r) => r.display)).toEqual(['0.00', '0.00', '1.50']);
    expect(view.usage[0]).toMatchObject({ amount: '0.004', gpuHours: '0.001' });
    expect(view.workspaces).toEqual([
      { workspaceId: 'ws-1', amount: '0.008', display: '0.01', gpuHours: '0.005', gpuHoursDisplay: '0.00' },
      { workspaceId: 'ws-2', amount: '1.5', display: '1.50', gpuHours: '0.6', gpuHoursDisplay: '0.60' },
    ]);
  });
});
