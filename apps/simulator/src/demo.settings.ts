import { DEFAULT_NATS_URL } from '@billing/messaging';
import { envInt } from '@billing/observability';
import { Currency, Decimal, minorUnits } from '@billing/domain';

/**
 * The demo's settings, read once at start from the environment (defaults for `npm start`, whose
 * engine ticks every second and asks 10 minutes of runway before a start). Tests shorten the times.
 */
export interface DemoSettings {
  readonly natsUrl: string;
  readonly walletPrefix: string;
  readonly lifecyclePrefix: string;
  /** Organization ids are `${orgPrefix}-<n>`; `${orgPrefix}-0` is the showcase (the dashboard link's). */
  readonly orgPrefix: string;
  readonly orgs: number;
  /** Resources of each organization but the showcase, started and stopped at random. */
  readonly resourcesPerOrg: number;
  /** The showcase's GPU nodes (beside its notebook): enough to burn its credit within a minute. */
  readonly showcaseNodes: number;
  /** How often the control plane moves one resource of the other organizations. */
  readonly stepMs: number;
  /** How often the console gets its summary. */
  readonly summaryMs: number;
  /**
   * The showcase's credit each cycle, in USD (other currencies: the same GPU time, see
   * DEMO_EXCHANGE): 3/8 plan credit, 1/4 a voucher for ai-notebook, the rest top-up.
   */
  readonly creditUsd: Decimal;
  /** How long each cycle's vouchers last: they expire on screen, credit left. */
  readonly voucherLifetimeMs: number;
  /** How long the showcase stays depleted (its resources stopped) before it is topped up again. */
  readonly depletedPauseMs: number;
  /** A cycle that has not depleted the showcase by then ends anyway. */
  readonly cycleMaxMs: number;
  /** How long each cycle's plan credit lasts. */
  readonly planPeriodMs: number;
  /**
   * At most one resource per organization is deleted and replaced by a fresh one in this time: the
   * engine lists an organization's resources deleted within a day (up to 1,000), so the demo's
   * churn stays well within that.
   */
  readonly replaceEveryMs: number;
}

/** Currencies the demo's organizations are billed in, in turn: the showcase in USD. */
export const DEMO_CURRENCIES: readonly Currency[] = ['USD', 'VND', 'JPY'];
/** Units of each currency for one USD, about the price catalog's ratio (an H100 hour: 2.50 USD, 62,000 VND, 380 JPY). */
export const DEMO_EXCHANGE: Record<Currency, Decimal> = { USD: new Decimal(1), VND: new Decimal(25_000), JPY: new Decimal(150) };

/** `usd` in `currency`, rounded up to its minor unit (top-ups are whole minor units). */
export function inCurrency(usd: Decimal, currency: Currency): Decimal {
  return usd.times(DEMO_EXCHANGE[currency]).toDecimalPlaces(minorUnits(currency), Decimal.ROUND_UP);
}

const AMOUNT = /^(0|[1-9][0-9]*)(\.[0-9]{1,2})?$/;

export function readDemoSettings(env: NodeJS.ProcessEnv): DemoSettings {
  const credit = env.DEMO_CREDIT_USD || '0.80';
  if (!AMOUNT.test(credit) || new Decimal(credit).lessThan('0.08')) throw new Error(`DEMO_CREDIT_USD must be an amount in USD of at least 0.08, such as 0.80, got '${credit}'`);
  return {
    natsUrl: env.NATS_URL || DEFAULT_NATS_URL,
    walletPrefix: env.SUBJECT_PREFIX || 'billing',
    lifecyclePrefix: env.LIFECYCLE_SUBJECT_PREFIX || 'gpu.lifecycle',
    orgPrefix: env.SIM_ORG_PREFIX || 'demo-org',
    orgs: envInt(env, 'SIM_ORGS', 3, 1, 100),
    resourcesPerOrg: envInt(env, 'SIM_RESOURCES', 3, 1, 100),
    showcaseNodes: envInt(env, 'DEMO_SHOWCASE_NODES', 16, 1, 200),
    stepMs: envInt(env, 'SIM_STEP_MS', 2000, 50, 600_000),
    summaryMs: envInt(env, 'DEMO_SUMMARY_MS', 5000, 200, 600_000),
    creditUsd: new Decimal(credit),
    voucherLifetimeMs: envInt(env, 'DEMO_VOUCHER_LIFETIME_MS', 40_000, 1000, 86_400_000),
    depletedPauseMs: envInt(env, 'DEMO_DEPLETED_PAUSE_MS', 5000, 0, 600_000),
    cycleMaxMs: envInt(env, 'DEMO_CYCLE_MAX_MS', 180_000, 5000, 86_400_000),
    planPeriodMs: envInt(env, 'DEMO_PLAN_PERIOD_MS', 120_000, 1000, 86_400_000),
    replaceEveryMs: envInt(env, 'DEMO_REPLACE_EVERY_MS', 120_000, 100, 86_400_000),
  };
}
