import { voucherExpiresAt } from './voucher-code';

describe('when a redeemed voucher expires', () => {
  const redeemedAt = new Date('2026-11-27T10:00:00Z');

  it("at the code's instant, when it has one", () => {
    const expiresAt = new Date('2026-12-31T00:00:00Z');
    expect(voucherExpiresAt({ expiresAt, expiresAfterDays: null }, redeemedAt)).toEqual(expiresAt);
  });

  it('so many days after the redemption otherwise', () => {
    expect(voucherExpiresAt({ expiresAt: null, expiresAfterDays: 30 }, redeemedAt).toISOString()).toBe('2026-12-27T10:00:00.000Z');
  });
});
