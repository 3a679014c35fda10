import { Counter, Gauge, Histogram, Metric, Registry } from 'prom-client';

/** What the scrape reads from the running engine. */
export interface BillingGauges {
  mailboxDepth(): number;
  activeWallets(): number;
  billableResources(): number;
  published(): number;
  partitionsServed(): number;
}

/**
 * The engine's Prometheus metrics. Counters and histograms exist before the registry (services
 * observe into them) and are registered on it by the observability module, with gauges that
 * read their value at scrape time.
 */
export class BillingMetrics {
  readonly commands = new Counter({ name: 'billing_commands_total', help: 'Wallet commands answered, by command and outcome', labelNames: ['command', 'outcome'], registers: [] });
  readonly batchWallets = new Histogram({ name: 'billing_commit_batch_wallets', help: 'Wallet batches per group commit', buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500], registers: [] });
  readonly commitSeconds = new Histogram({ name: 'billing_commit_seconds', help: 'Group commit latency', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [] });
  readonly lifecycle = new Counter({ name: 'billing_lifecycle_events_total', help: 'Lifecycle events, by outcome', labelNames: ['outcome'], registers: [] });
  readonly ownership = new Counter({ name: 'billing_partition_changes_total', help: 'Partitions gained, handed over, lost, fenced off, or freed from a process found gone, by this process', labelNames: ['change'], registers: [] });
  readonly forwarded = new Counter({ name: 'billing_forwarded_total', help: 'Requests forwarded to the process owning their organization, by kind and outcome', labelNames: ['kind', 'outcome'], registers: [] });
  readonly operatorActions = new Counter({ name: 'billing_operator_actions_total', help: 'Operator actions recorded in the audit, by command and outcome', labelNames: ['command', 'outcome'], registers: [] });
  readonly auditFailures = new Counter({ name: 'billing_operator_audit_failures_total', help: 'Audit rows not written: step "begin" (the action was refused) or "finish" (its outcome is missing)', labelNames: ['step'], registers: [] });

  /** What the gauges read, once the engine's services exist (0 until then). */
  private sources: BillingGauges | null = null;

  observe(sources: BillingGauges): void {
    this.sources = sources;
  }

  register(registry: Registry): void {
    const read = {
      mailboxDepth: () => this.sources?.mailboxDepth() ?? 0,
      activeWallets: () => this.sources?.activeWallets() ?? 0,
      billableResources: () => this.sources?.billableResources() ?? 0,
      published: () => this.sources?.published() ?? 0,
      partitionsServed: () => this.sources?.partitionsServed() ?? 0,
    };
    for (const m of [this.commands, this.batchWallets, this.commitSeconds, this.lifecycle, this.ownership, this.forwarded, this.operatorActions, this.auditFailures] as Metric[]) registry.registerMetric(m);
    const gauge = (name: string, help: string, value: () => number) =>
      new Gauge({ name, help, registers: [registry], collect() { this.set(value()); } });
    gauge('billing_mailbox_depth', 'Commands waiting in wallet actor mailboxes', read.mailboxDepth);
    gauge('billing_active_wallet_actors', 'Wallet actors in memory', read.activeWallets);
    gauge('billing_billable_resources', 'Resources being billed or settled', read.billableResources);
    gauge('billing_outbox_published', 'Events published to JetStream from the outbox since start', read.published);
    gauge('billing_partitions_served', 'Partitions (of PARTITIONS) whose organizations this process serves', read.partitionsServed);
  }
}
