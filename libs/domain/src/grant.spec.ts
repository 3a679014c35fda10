import { Grant, newestGrant, topupInDebt } from './grant';
import { Decimal } from './money';

const t0 = new Date('2026-11-27T10:00:00Z');

function topup(id: string, createdAt: Date, remaining = '10'): Grant {
  return { id, kind: 'topup', amount: new Decimal(10), remaining: new Decimal(remaining), currency: 'USD', service: null, expiresAt: null, createdAt, sourceRef: null };
}

describe('the newest grant', () => {
  it('is the one created last', () => {
    const grants = [topup('b', new Date(t0.getTime() + 1)), topup('a', t0)];
    expect(newestGrant(grants)?.id).toBe('b');
  });

  it('is the greater id among those created at the same instant, whatever the order of the list (as the wallet query orders them)', () => {
    const ids = ['6f1c1b9e-0000-4000-8000-00000000000a', '6f1c1b9e-0000-4000-8000-00000000000b', '6f1c1b9e-0000-4000-8000-000000000001'];
    for (const order of [ids, [...ids].reverse(), [ids[1], ids[0], ids[2]]]) {
      expect(newestGrant(order.map((id) => topup(id, t0)))?.id).toBe(ids[1]);
    }
  });

  it('is none in an empty list', () => {
    expect(newestGrant([])).toBeUndefined();
  });
});

describe('the top-up in debt', () => {
  it('is the negative top-up grant, if any', () => {
    expect(topupInDebt([topup('a', t0), topup('b', t0, '-2')])?.id).toBe('b');
    expect(topupInDebt([topup('a', t0), topup('b', t0, '0')])).toBeUndefined();
  });
});
