import { Inject, Injectable } from '@nestjs/common';
import { TopupReconciliationRepository, TOPUP_PROVIDERS } from '@billing/persistence';
import { Counter, Gauge, Registry } from 'prom-client';
import { PaymentsConfig } from './payments.config';
import { PAYMENTS_CONFIG } from './payments.tokens';

/**
 * The payments' figures on the gateway's `/metrics`: pending top-ups and how old the oldest is
 * (read from the database when scraped, so every gateway reports the same), what reconciliation
 * came to, the mismatches found, operator refunds and top-ups refused by their limits (counted
 * by the process that did it).
 */
@Injectable()
export class PaymentsMetrics {
  readonly reconciliations: Counter<'provider' | 'outcome'>;
  readonly mismatches: Counter<'kind'>;
  readonly refunds: Counter<'provider' | 'outcome'>;
  readonly limitRefusals: Counter<'code'>;

  constructor(@Inject(Registry) registry: Registry, topups: TopupReconciliationRepository, @Inject(PAYMENTS_CONFIG) config: PaymentsConfig) {
    const registers = [registry];
    this.reconciliations = new Counter({ name: 'gateway_payment_reconciliations_total', help: 'Pending top-ups asked about at their provider by reconciliation, by what came of it', labelNames: ['provider', 'outcome'], registers });
    this.mismatches = new Counter({ name: 'gateway_payment_mismatches_total', help: 'Mismatches found between a provider, topup_intents and the ledger (by reconciliation and the mismatch report), by kind', labelNames: ['kind'], registers });
    this.refunds = new Counter({ name: 'gateway_payment_refunds_total', help: 'Operator refunds, by provider and outcome (a replay counts as replayed)', labelNames: ['provider', 'outcome'], registers });
    this.limitRefusals = new Counter({ name: 'gateway_topup_limit_refusals_total', help: 'Top-up starts refused by the amount limits, by error code', labelNames: ['code'], registers });
    let last = new Map<string, { pending: number; oldestSeconds: number; overdue: number }>();
    // One query per scrape, shared by the three gauges that read it.
    let reading: Promise<void> | null = null;
    const read = () =>
      (reading ??= topups
        .pendingSummary(config.reconcile.afterMs)
        .then((rows) => void (last = new Map(rows.map((r) => [r.provider, r]))))
        // The database out of reach: the last figures stand (health says the rest).
        .catch(() => undefined)
        .finally(() => setTimeout(() => (reading = null), 0)));
    const gauge = (name: string, help: string, pick: (r: { pending: number; oldestSeconds: number; overdue: number }) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['provider'],
        registers,
        async collect() {
          await read();
          for (const provider of TOPUP_PROVIDERS) this.set({ provider }, pick(last.get(provider) ?? { pending: 0, oldestSeconds: 0, overdue: 0 }));
        },
      });
    gauge('gateway_topups_pending', 'Top-ups pending at their provider', (r) => r.pending);
    gauge('gateway_topups_pending_oldest_seconds', 'Age of the oldest pending top-up, in seconds (0 when none is pending)', (r) => r.oldestSeconds);
    gauge('gateway_topups_pending_overdue', 'Top-ups pending longer than PAYMENT_RECONCILE_AFTER_MS: those reconciliation asks about', (r) => r.overdue);
  }
}
