import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { TopupIntent, TopupReconciliationRepository, TopupRepository } from '@billing/persistence';
import { SettlementReport } from './settlement-report';
import { PaymentsConfig } from './payments.config';
import { PaymentsMetrics } from './payments.metrics';
import { TopupSettlement, WebhookOutcome } from './topup-settlement';
import { PAYMENTS_CONFIG } from './payments.tokens';
import { PaypalApprovals } from './paypal-approvals';
import { readPaypalOrderReports } from './paypal-settlement';
import { ProviderError } from './provider-call';
import { PAYPAL_CLIENT, PayPalClient, STRIPE_CLIENT, StripeClient, VNPAY_CLIENT, VnpayClient } from './provider-clients';
import { closedUnpaid, expiryDue, nextCheckAt, ProviderLookup, ReconcileOutcome } from './reconciliation';
import { readStripeIntentReports } from './stripe-settlement';
import { readVnpayQueryReport } from './vnpay-settlement';

/** Top-ups of one run asked about at once: a slow provider holds up a few, not the run. */
const RECONCILE_CONCURRENCY = 4;
/** Webhook outcomes that mean the provider's answer does not fit the top-up: nothing was recorded. */
const MISFITS: ReadonlySet<WebhookOutcome> = new Set(['unknown_topup', 'amount_mismatch', 'currency_mismatch', 'invalid_event', 'too_many_facts']);

/** Runs `work` over `items`, `concurrency` at a time. */
export async function eachLimited<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  });
  await Promise.all(workers);
}

/** Asks a top-up's provider what became of its payment (also for the mismatch report). */
@Injectable()
export class PaymentProviderLookup {
  constructor(
    @Inject(STRIPE_CLIENT) private readonly stripe: StripeClient,
    @Inject(PAYPAL_CLIENT) private readonly paypal: PayPalClient,
    @Inject(VNPAY_CLIENT) private readonly vnpay: VnpayClient,
  ) {}

  async lookup(intent: TopupIntent): Promise<ProviderLookup> {
    try {
      switch (intent.provider) {
        case 'stripe':
          return { kind: 'stripe', pi: await this.stripe.retrievePaymentIntent(intent.providerRef) };
        case 'paypal':
          return { kind: 'paypal', order: await this.paypal.getOrder(intent.providerRef) };
        case 'vnpay':
          // VNPAY wants the payment's vnp_CreateDate: the top-up's start, the time its URL was signed with.
          return { kind: 'vnpay', result: await this.vnpay.queryTransaction({ txnRef: intent.providerRef, transactionDate: intent.createdAt }) };
      }
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      if (error.details.status === 404) return { kind: 'not_found', detail: error.message };
      return { kind: 'unreachable', detail: error.message };
    }
  }
}

/** The facts an answer of a provider's API carries. */
export function reportsOf(lookup: ProviderLookup, now: Date): SettlementReport[] {
  switch (lookup.kind) {
    case 'stripe':
      return readStripeIntentReports(lookup.pi, now);
    case 'paypal':
      return readPaypalOrderReports(lookup.order, now);
    case 'vnpay':
      return lookup.result.found ? [readVnpayQueryReport(lookup.result)] : [];
    default:
      return [];
  }
}

/**
 * Reconciliation: every PAYMENT_RECONCILE_INTERVAL_MS, each gateway process claims up to
 * PAYMENT_RECONCILE_BATCH_SIZE top-ups pending longer than PAYMENT_RECONCILE_AFTER_MS (their
 * webhook was probably lost) and asks each one's provider what became of it: Stripe's PaymentIntent,
 * PayPal's order (an approved order is captured now), VNPAY's querydr. The answer becomes the same
 * facts as a webhook's and settles through the same machine (never a second path to credit).
 * Once the payment window has closed and its grace passed, that answer is the final check: a
 * payment made at the last second is credited, an open one is closed (a Stripe PaymentIntent is
 * cancelled first, so no one can pay it afterwards) and the top-up expires.
 *
 * Safe on every gateway at once: rows are claimed with `for update skip locked` and leased for
 * PAYMENT_RECONCILE_LEASE_MS, so two processes do not ask about the same top-up in one round;
 * and should a lease run out mid-run, the facts are idempotent and the settlement a
 * compare-and-set, so asking twice changes nothing twice. A top-up still pending is asked again
 * after a wait that doubles (at most PAYMENT_RECONCILE_MAX_BACKOFF_MS), and at the end of its window's grace.
 */
@Injectable()
export class PaymentsReconciler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('PaymentsReconciler');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;

  constructor(
    private readonly topups: TopupRepository,
    private readonly claims: TopupReconciliationRepository,
    private readonly settlement: TopupSettlement,
    private readonly approvals: PaypalApprovals,
    private readonly providers: PaymentProviderLookup,
    private readonly metrics: PaymentsMetrics,
    @Inject(STRIPE_CLIENT) private readonly stripe: StripeClient,
    @Inject(PAYMENTS_CONFIG) private readonly config: PaymentsConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.reconcile.intervalMs === 0) return;
    this.timer = setInterval(() => this.tick(), this.config.reconcile.intervalMs);
    this.timer.unref();
  }

  private tick(): void {
    if (this.running || this.stopping) return; // one run at a time; a slow run delays the next
    this.running = this.run()
      .then((n) => {
        if (n > 0) this.logger.log({ msg: 'pending top-ups reconciled', count: n });
      })
      .catch((error) => this.logger.warn({ msg: 'reconciliation run failed', error: (error as Error).message }))
      .finally(() => (this.running = null));
  }

  /** One run: claims what is due and asks about each; returns how many it claimed. */
  async run(now = () => new Date()): Promise<number> {
    const r = this.config.reconcile;
    const claimed = await this.claims.claimForReconciliation(r.afterMs, r.leaseMs, r.batchSize);
    await eachLimited(claimed, RECONCILE_CONCURRENCY, async (intent) => {
      if (this.stopping) return;
      let outcome: ReconcileOutcome;
      try {
        outcome = await this.reconcile(intent, now());
      } catch (error) {
        this.logger.warn({ msg: 'reconciliation of a top-up failed', topupId: intent.id, error: (error as Error).message });
        outcome = 'unreachable';
      }
      this.metrics.reconciliations.inc({ provider: intent.provider, outcome });
      const at = now();
      await this.claims.releaseReconciliation(intent.id, outcome, nextCheckAt(intent.reconcileAttempts, at, r.afterMs, r.maxBackoffMs, intent.expiresAt, r.expiryGraceMs));
    });
    return claimed.length;
  }

  /** Asks the provider about one pending top-up and settles what it says. */
  async reconcile(intent: TopupIntent, now: Date): Promise<ReconcileOutcome> {
    let lookup = await this.providers.lookup(intent);
    if (lookup.kind === 'unreachable') {
      this.logger.warn({ msg: 'reconciliation could not ask the provider', topupId: intent.id, provider: intent.provider, detail: lookup.detail });
      return 'unreachable';
    }
    let misfit = false;
    if (lookup.kind === 'paypal' && lookup.order.status === 'APPROVED') {
      // The buyer approved and neither the return nor CHECKOUT.ORDER.APPROVED captured it: capture now; its answer settles the top-up.
      const { outcome } = await this.approvals.capture(intent.providerRef, 'reconciliation');
      if (outcome === 'retry_later') return 'unreachable';
    } else {
      misfit = await this.apply(intent, reportsOf(lookup, now));
    }
    let current = (await this.topups.findById(intent.id)) ?? intent;
    const due = expiryDue(current.expiresAt, now, this.config.reconcile.expiryGraceMs);
    if (current.status === 'pending' && due && closedUnpaid(lookup)) {
      if (lookup.kind === 'stripe') {
        // Closed at Stripe first: after that no one can pay it. What Stripe answers is the final word.
        try {
          lookup = { kind: 'stripe', pi: await this.stripe.cancelPaymentIntent(lookup.pi.id, `expire:${intent.id}`) };
        } catch (error) {
          if (!(error instanceof ProviderError)) throw error;
          // Its state changed in between (paid at the last second): the next question finds out.
          this.logger.warn({ msg: 'stripe PaymentIntent not cancelled at expiry', topupId: intent.id, error: error.message });
          return 'still_pending';
        }
        // Cancelled as abandoned: an expiry (paid at the last second: a capture). Either way, a fact.
        misfit = (await this.apply(intent, reportsOf(lookup, now))) || misfit;
      }
      if (lookup.kind !== 'stripe' || lookup.pi.status === 'canceled') {
        const reason = `the payment window closed at ${current.expiresAt.toISOString()} unpaid (${describe(lookup)})`;
        await this.settlement.applyFact(current, { key: `${intent.provider}:expired:${intent.providerRef}`.slice(0, 200), at: now, input: { kind: 'expired', reason } });
      }
      current = (await this.topups.findById(intent.id)) ?? current;
    }
    if (misfit) return 'mismatch';
    if (lookup.kind === 'not_found' && current.status === 'pending') return 'not_found';
    return outcomeOf(current.status);
  }

  /** Applies each report; true if one did not fit the top-up (counted as a mismatch). */
  private async apply(intent: TopupIntent, reports: readonly SettlementReport[]): Promise<boolean> {
    let misfit = false;
    const before = intent.status;
    for (const report of reports) {
      const outcome = await this.settlement.applyReport(intent.provider, report);
      if (MISFITS.has(outcome)) {
        misfit = true;
        this.metrics.mismatches.inc({ kind: outcome === 'amount_mismatch' ? 'captured_amount_differs' : 'provider_answer_unusable' });
        this.logger.warn({ msg: 'a provider answer does not fit its top-up; nothing recorded', topupId: intent.id, provider: intent.provider, outcome, type: report.kind === 'report' ? report.type : report.kind });
      } else if (before === 'pending' && (outcome === 'credited' || outcome === 'credit_pending' || outcome === 'credit_refused')) {
        // The provider had the money while the top-up waited: its webhook was lost.
        this.metrics.mismatches.inc({ kind: 'provider_captured_not_credited' });
        this.logger.log({ msg: 'reconciliation found a payment whose webhook was lost', topupId: intent.id, provider: intent.provider, outcome });
      }
    }
    return misfit;
  }

  beforeApplicationShutdown(): Promise<void> | void {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    return this.running ?? undefined;
  }
}

function outcomeOf(status: TopupIntent['status']): ReconcileOutcome {
  if (status === 'pending') return 'still_pending';
  if (status === 'succeeded') return 'captured';
  if (status === 'failed' || status === 'expired') return status;
  return 'settled';
}

function describe(lookup: ProviderLookup): string {
  switch (lookup.kind) {
    case 'stripe':
      return `stripe PaymentIntent ${lookup.pi.status}`;
    case 'paypal':
      return `paypal order ${lookup.order.status}`;
    case 'vnpay':
      return lookup.result.found ? `vnpay status ${lookup.result.transactionStatus}` : 'vnpay: no such transaction';
    default:
      return lookup.detail.slice(0, 100);
  }
}
