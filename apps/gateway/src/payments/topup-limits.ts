import { Currency, CURRENCIES, Decimal, fitsDailyLimit, inMinorUnits, leftInDailyLimit, minorUnits, toDisplay } from '@billing/domain';
import { ErrorCode } from '@billing/contracts';

/**
 * How much an organization may top up, per currency: each top-up between `min` and `max`, and at
 * most `dailyMax` started in any 24 hours (a rolling window, so that no midnight lets twice the
 * limit through). Pure: the service asks the repository for what was started in the window.
 */
export interface TopupLimit {
  readonly min: Decimal;
  readonly max: Decimal;
  readonly dailyMax: Decimal;
}
export type TopupLimits = Readonly<Record<Currency, TopupLimit>>;

/** The window of the daily limit. */
export const TOPUP_DAILY_WINDOW_MS = 24 * 3600_000;

/**
 * The defaults: about USD 5 to 10,000 a top-up and 20,000 a day in each currency, in round
 * amounts of it (VND and JPY have no minor unit). Stripe's own minimum (USD 0.50, JPY 50) is
 * well below each minimum; VNPAY takes 5,000 to under 1,000,000,000 dong.
 */
export const DEFAULT_TOPUP_LIMITS: TopupLimits = {
  USD: { min: new Decimal('5'), max: new Decimal('10000'), dailyMax: new Decimal('20000') },
  VND: { min: new Decimal('100000'), max: new Decimal('250000000'), dailyMax: new Decimal('500000000') },
  JPY: { min: new Decimal('500'), max: new Decimal('1500000'), dailyMax: new Decimal('3000000') },
};

const AMOUNT = /^(0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?$/;

/**
 * TOPUP_MIN_<CURRENCY>, TOPUP_MAX_<CURRENCY>, TOPUP_DAILY_MAX_<CURRENCY> (USD, VND, JPY): decimal
 * strings in the currency's minor unit, each positive, min <= max <= dailyMax.
 */
export function loadTopupLimits(env: NodeJS.ProcessEnv): TopupLimits {
  const limits = {} as Record<Currency, TopupLimit>;
  for (const currency of CURRENCIES) {
    const read = (name: string, fallback: Decimal): Decimal => {
      const raw = env[name];
      if (raw === undefined || raw === '') return fallback;
      if (!AMOUNT.test(raw) || !inMinorUnits(new Decimal(raw), currency) || new Decimal(raw).isZero()) {
        throw new Error(`${name} must be a positive amount of ${currency} with at most ${minorUnits(currency)} decimals, got '${raw}'`);
      }
      return new Decimal(raw);
    };
    const d = DEFAULT_TOPUP_LIMITS[currency];
    const limit = { min: read(`TOPUP_MIN_${currency}`, d.min), max: read(`TOPUP_MAX_${currency}`, d.max), dailyMax: read(`TOPUP_DAILY_MAX_${currency}`, d.dailyMax) };
    if (limit.min.greaterThan(limit.max)) throw new Error(`TOPUP_MIN_${currency} (${limit.min.toFixed()}) is above TOPUP_MAX_${currency} (${limit.max.toFixed()})`);
    if (limit.max.greaterThan(limit.dailyMax)) throw new Error(`TOPUP_MAX_${currency} (${limit.max.toFixed()}) is above TOPUP_DAILY_MAX_${currency} (${limit.dailyMax.toFixed()})`);
    limits[currency] = limit;
  }
  return limits;
}

export interface LimitRefusal {
  readonly code: typeof ErrorCode.TOPUP_AMOUNT_TOO_SMALL | typeof ErrorCode.TOPUP_AMOUNT_TOO_LARGE | typeof ErrorCode.TOPUP_DAILY_LIMIT;
  readonly message: string;
}

/** Whether one top-up of `amount` is within the per-top-up limits; null when it is. */
export function perTopupRefusal(limits: TopupLimits, amount: Decimal, currency: Currency): LimitRefusal | null {
  const { min, max } = limits[currency];
  if (amount.lessThan(min)) return { code: ErrorCode.TOPUP_AMOUNT_TOO_SMALL, message: `a top-up is at least ${toDisplay(min, currency)} ${currency}` };
  if (amount.greaterThan(max)) return { code: ErrorCode.TOPUP_AMOUNT_TOO_LARGE, message: `a top-up is at most ${toDisplay(max, currency)} ${currency}` };
  return null;
}

/** Whether `amount` more fits the daily limit, given what was started in the last 24 hours; null when it does. */
export function dailyRefusal(limits: TopupLimits, amount: Decimal, currency: Currency, startedInWindow: Decimal): LimitRefusal | null {
  const { dailyMax } = limits[currency];
  if (fitsDailyLimit(startedInWindow, amount, dailyMax)) return null;
  const left = leftInDailyLimit(startedInWindow, dailyMax);
  return {
    code: ErrorCode.TOPUP_DAILY_LIMIT,
    message: `at most ${toDisplay(dailyMax, currency)} ${currency} of top-ups may be started in 24 hours; ${toDisplay(startedInWindow, currency)} already were, so at most ${toDisplay(left, currency)} more`,
  };
}
