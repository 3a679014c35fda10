import { DEFAULT_NATS_URL } from '@billing/messaging';
import { envInt } from '@billing/observability';
import { Currency, Decimal, minorUnits } from '@billing/domain';

/**
 * The demo's settings, read once at start from the environment (defaults for `npm start`, whose
 * engine ticks every second and, unless set otherwise, asks one minute of runway before a start
 * and holds one minute of each running GPU: scripts/start.js). Tests shorten the times.
 *
 * Why one-minute holds: a running GPU holds the cost of its current hold period against the
 * balance, and `authorize` compares what is available (total less held) with the runway. With the
 * engine's 60-minute default an H100 holds 2.50 USD, so the showcase's 0.80 USD of credit would
 * start one GPU at most, and the engine would stop it at once. With one minute each H100 holds
 * about 0.042 USD: the 17 GPUs (42.50 USD/h, 0.71 USD a minute) all start, hold about 0.71 of the
 * 0.80, and what is available stays at about 0.09 while their charges draw on the holds. The total
 * falls below the low-balance threshold (0.50) about 25 s in; when the voucher expires (40 s), with
 * about 0.20 of it unused, what is available falls below zero and the engine stops the GPUs (at the
 * latest, the next hold period, a minute in, holds 0.71 more than the 0.09 left): within a minute.
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
  /** The showcase's GPU nodes (beside its notebook): enough to burn its credit within a minute (see the holds above). */
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
  /** How long the showcase stays stopped (the engine's stop commands obeyed, or depleted) before it is topped up again. */
  readonly depletedPauseMs: number;
  /** A cycle whose showcase has been neither stopped nor depleted by then ends anyway. */
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
