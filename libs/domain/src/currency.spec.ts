import { currencyLockRefusal } from './currency';

describe('the currency lock', () => {
  it('accepts a credit in the billing currency, or any credit before there is one', () => {
    expect(currencyLockRefusal(null, 'VND')).toBeNull();
    expect(currencyLockRefusal('USD', 'USD', true)).toBeNull();
    expect(currencyLockRefusal('USD', 'USD', false)).toBeNull();
  });

  it('refuses a credit in another currency, saying what set the billing currency when that is known', () => {
    expect(currencyLockRefusal('USD', 'VND', true)).toBe('the billing currency is USD, fixed by the first top-up; VND is refused');
    expect(currencyLockRefusal('USD', 'VND', false)).toBe('the wallet already holds credit in USD; the first top-up and every credit must be in USD, VND is refused');
    expect(currencyLockRefusal('JPY', 'USD')).toBe("the billing currency is JPY, set by the wallet's first credit; every credit must be in JPY, USD is refused");
  });
});
