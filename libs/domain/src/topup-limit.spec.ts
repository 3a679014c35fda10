import { Decimal } from './money';
import { fitsDailyLimit, leftInDailyLimit } from './topup-limit';

describe('the daily top-up limit', () => {
  const dailyMax = new Decimal(100);

  it('lets a top-up bring what was started in the window up to the limit, not past it', () => {
    expect(fitsDailyLimit(new Decimal(60), new Decimal(40), dailyMax)).toBe(true);
    expect(fitsDailyLimit(new Decimal(60), new Decimal('40.01'), dailyMax)).toBe(false);
  });

  it('says what is left, never less than zero', () => {
    expect(leftInDailyLimit(new Decimal(60), dailyMax).toFixed()).toBe('40');
    expect(leftInDailyLimit(new Decimal(130), dailyMax).toFixed()).toBe('0');
  });
});
