import { allocate, compareConsumptionOrder, drain } from './allocation';
import { Grant } from './grant';
import { Decimal } from './money';

const t0 = new Date('2026-11-27T10:00:00Z');
const at = (h: number) => new Date(t0.getTime() + h * 3600_000);

function g(id: string, fields: Partial<Grant>): Grant {
  return {
    id,
    kind: 'topup',
    amount: new Decimal(10),
    remaining: new Decimal(10),
    currency: 'USD',
    service: null,
    expiresAt: null,
    createdAt: t0,
    sourceRef: null,
    ...fields,
  };
}

describe('consumption order', () => {
  it('takes plan credits first, then vouchers, then top-up', () => {
    const grants = [g('t', { kind: 'topup' }), g('v', { kind: 'voucher', expiresAt: at(5) }), g('p', { kind: 'plan', expiresAt: at(9) })];
    expect([...grants].sort(compareConsumptionOrder).map((x) => x.id)).toEqual(['p', 'v', 't']);
  });

  it('takes vouchers by earliest expiry, a scoped voucher before an unscoped one on ties, then oldest', () => {
    const grants = [
      g('late', { kind: 'voucher', expiresAt: at(9) }),
      g('unscoped', { kind: 'voucher', expiresAt: at(5), createdAt: at(-2) }),
      g('scoped', { kind: 'voucher', expiresAt: at(5), service: 'ai-notebook', createdAt: at(-1) }),
      g('older', { kind: 'voucher', expiresAt: at(9), createdAt: at(-3) }),
    ];
    expect([...grants].sort(compareConsumptionOrder).map((x) => x.id)).toEqual(['scoped', 'unscoped', 'older', 'late']);
  });

  it('falls back to top-up when the voucher is scoped to another service', () => {
    const grants = [g('v', { kind: 'voucher', service: 'ai-notebook', expiresAt: at(5) }), g('t', { kind: 'topup' })];
    const { parts, shortfall } = allocate(grants, new Decimal(4), 'gpu-container', t0);
    expect(parts.map((p) => [p.grantId, p.amount.toFixed()])).toEqual([['t', '-4']]);
    expect(shortfall.isZero()).toBe(true);
  });

  it('never draws from a grant for usage that ends at or after its expiry', () => {
    const grants = [g('v', { kind: 'voucher', expiresAt: at(1) }), g('t', { kind: 'topup', remaining: new Decimal(1) })];
    const { parts, shortfall } = allocate(grants, new Decimal(3), 'x', at(1));
    expect(parts.map((p) => p.grantId)).toEqual(['t']);
    expect(shortfall.toFixed()).toBe('2');
  });
});

describe('the ordered drain', () => {
  const sources = [{ id: 'a', has: new Decimal(3) }, { id: 'b', has: new Decimal('2.5') }, { id: 'c', has: new Decimal(4) }];

  it('takes from each source in the order given, as much as it has, until nothing is left', () => {
    const { taken, left } = drain(sources, new Decimal('4.25'), (s) => s.has);
    expect(taken.map((t) => [t.from.id, t.amount.toFixed()])).toEqual([['a', '3'], ['b', '1.25']]);
    expect(left.isZero()).toBe(true);
  });

  it('says what no source could give', () => {
    const { taken, left } = drain(sources, new Decimal(10), (s) => s.has);
    expect(taken.map((t) => t.amount.toFixed())).toEqual(['3', '2.5', '4']);
    expect(left.toFixed()).toBe('0.5');
  });
});
