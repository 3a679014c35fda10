import { Decimal } from '@billing/domain';
import { dailyRefusal, DEFAULT_TOPUP_LIMITS, loadTopupLimits, perTopupRefusal } from './topup-limits';

const d = (v: string) => new Decimal(v);

describe('top-up limits', () => {
  it('default to USD 5 to 10,000 a top-up and 20,000 in 24 hours, and their own for VND and JPY', () => {
    const limits = loadTopupLimits({});
    expect(limits).toEqual(DEFAULT_TOPUP_LIMITS);
    expect(limits.USD).toEqual({ min: d('5'), max: d('10000'), dailyMax: d('20000') });
    expect(limits.VND.min.toFixed()).toBe('100000');
    expect(limits.JPY.max.toFixed()).toBe('1500000');
  });

  it('take settings per currency, in its minor unit, and refuse what cannot hold', () => {
    expect(loadTopupLimits({ TOPUP_MIN_USD: '1.50', TOPUP_DAILY_MAX_JPY: '5000000' })).toMatchObject({ USD: { min: d('1.5') }, JPY: { dailyMax: d('5000000') } });
    expect(() => loadTopupLimits({ TOPUP_MIN_JPY: '1.5' })).toThrow(/TOPUP_MIN_JPY must be a positive amount of JPY with at most 0 decimals/);
    expect(() => loadTopupLimits({ TOPUP_MIN_USD: '0' })).toThrow(/TOPUP_MIN_USD/);
    expect(() => loadTopupLimits({ TOPUP_MAX_USD: '-3' })).toThrow(/TOPUP_MAX_USD/);
    expect(() => loadTopupLimits({ TOPUP_MIN_USD: '20000' })).toThrow(/TOPUP_MIN_USD \(20000\) is above TOPUP_MAX_USD/);
    expect(() => loadTopupLimits({ TOPUP_MAX_VND: '600000000' })).toThrow(/is above TOPUP_DAILY_MAX_VND/);
  });

  it('refuse a top-up under the minimum or over the maximum, with a code and the bound in the currency', () => {
    const limits = loadTopupLimits({});
    expect(perTopupRefusal(limits, d('4.99'), 'USD')).toEqual({ code: 'TOPUP_AMOUNT_TOO_SMALL', message: 'a top-up is at least 5.00 USD' });
    expect(perTopupRefusal(limits, d('10000.01'), 'USD')).toEqual({ code: 'TOPUP_AMOUNT_TOO_LARGE', message: 'a top-up is at most 10000.00 USD' });
    expect(perTopupRefusal(limits, d('5'), 'USD')).toBeNull();
    expect(perTopupRefusal(limits, d('10000'), 'USD')).toBeNull();
    expect(perTopupRefusal(limits, d('99999'), 'VND')?.code).toBe('TOPUP_AMOUNT_TOO_SMALL');
  });

  it('refuse what would take the last 24 hours past the daily maximum, saying what is left', () => {
    const limits = loadTopupLimits({});
    expect(dailyRefusal(limits, d('5000'), 'USD', d('15000'))).toBeNull();
    const refused = dailyRefusal(limits, d('5000.01'), 'USD', d('15000'));
    expect(refused).toEqual({ code: 'TOPUP_DAILY_LIMIT', message: 'at most 20000.00 USD of top-ups may be started in 24 hours; 15000.00 already were, so at most 5000.00 more' });
    expect(dailyRefusal(limits, d('5'), 'USD', d('25000'))?.message).toMatch(/at most 0.00 more/);
  });
});
