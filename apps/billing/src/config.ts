import { randomBytes } from 'crypto';
import { hostname } from 'os';
import { Decimal, ladderRefusal, LadderSettings, MAX_MIN_RUNWAY_MINUTES, MAX_RUNWAY_MARK_SECONDS, MAX_RUNWAY_MARKS, MAX_STORAGE_DELETION_DAYS, MAX_STORAGE_REMINDERS, parseDays, parseDaysList, parseLadderAmount, parseRunwayMarks } from '@billing/domain';
import { DEFAULT_DATABASE_URL, loadShardConfig, ShardMap } from '@billing/persistence';
import { DEFAULT_NATS_URL, jetStreamReplicas, NatsAuth, natsAuth } from '@billing/messaging';
import { defaultPriceCatalogPath } from './resources/price-catalog';
import { envInt, envSetting, envToken, healthDetailsToken } from '@billing/observability';

/** The engine's settings, read and checked once at start; every default runs on a development machine. */
export interface BillingConfig {
  /** The global home: voucher codes, plans, prices, the operator audit, payments (and the one shard without SHARDS). */
  readonly databaseUrl: string;
  /** Which database holds each partition's organizations (`SHARDS`, `SHARD_MAP`; README, "PostgreSQL by partition"). */
  readonly shards: ShardMap;
  readonly natsUrl: string;
  /** The engine connects as the NATS user `billing` (NATS_PASSWORD_BILLING or NATS_CREDS; TLS settings). */
  readonly nats: NatsAuth;
  /** First token of every subject (`billing.wallet...`, `billing.events...`). */
  readonly subjectPrefix: string;
  readonly eventsStream: string;
  /** NATS queue group: processes in the same group share the wallet commands. */
  readonly queueGroup: string;
  readonly mailboxCapacity: number;
  readonly maxBatchCommands: number;
  readonly actorIdleMs: number;
  readonly dbPoolMax: number;
  /** Wallet batches committed in one transaction at most. */
  readonly maxWalletsPerCommit: number;
  /** Group commits under way at once (each holds one pooled connection). */
  readonly concurrentCommits: number;
  readonly outboxSweepIntervalMs: number;
  /** JSON price catalog (see README); the shipped one by default. */
  readonly priceCatalogPath: string;
  /** A new price version must take effect at least this long after it is first loaded. */
  readonly priceChangeNoticeMs: number;
  /** How often running resources are charged. */
  readonly tickIntervalMs: number;
  /** While a GPU runs, the cost of the rest of its current hold period of this length is held against the balance (0: no holds). */
  readonly holdMinutes: number;
  /**
   * The enforcement ladder's defaults (each organization may have overrides, `ladder.set`):
   * `MIN_RUNWAY_MINUTES`, `RUNWAY_MARKS`, `STOP_OVERDRAFT`, `STORAGE_DEBT_LIMIT`, `STORAGE_DELETION_DAYS`, `STORAGE_REMINDER_DAYS`.
   */
  readonly ladder: LadderSettings;
  /** A stop or delete_storage command is published again this often until its resource's STOPPED (DELETED) is committed. */
  readonly stopRepeatMs: number;
  /** The JetStream stream of commands to the control plane (`<prefix>.control.>`). */
  readonly controlStream: string;
  readonly lifecycleStream: string;
  readonly lifecycleSubjectPrefix: string;
  /** Durable consumer name: processes sharing it share the lifecycle messages. */
  readonly lifecycleConsumer: string;
  /** How often grants expiring soon are looked for, so passivated wallets expire on time too. */
  readonly expirySweepIntervalMs: number;
  /** How long before a voucher or plan credit expires with credit left its `grant_expiring` notice goes out. */
  readonly grantExpiringNoticeMs: number;
  /** How often plan subscriptions are checked for a period that has started. */
  readonly planSweepIntervalMs: number;
  /** HTTP port of /health and /metrics (0: any free port). */
  readonly httpPort: number;
  /** Bearer token of /health/details (HEALTH_DETAILS_TOKEN); null: details for no one. */
  readonly healthDetailsToken: string | null;
  /** This process's name among the engine processes; unique among those running, kept across restarts (see README). */
  readonly nodeId: string;
  /** Organizations are owned a partition at a time; every process must use the same count. */
  readonly partitions: number;
  /** JetStream key-value bucket holding the partition leases (`<SUBJECT_PREFIX>_OWNERS` by default). */
  readonly ownersBucket: string;
  /** A lease not renewed for this long expires, and its partition moves to another process. */
  readonly leaseTtlMs: number;
  /** `JETSTREAM_REPLICAS`: copies of the streams and the lease bucket the engine creates (3 on a three-node NATS cluster). */
  readonly jetStreamReplicas: number;
}

/**
 * Unique on one host as long as the HTTP ports differ (they must), and the same after a restart,
 * so a restarted process takes its leases back at once. With any free port (tests): a new name.
 */
function defaultNodeId(httpPort: number): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '-');
  return httpPort > 0 ? `${host}-${httpPort}` : `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** `RUNWAY_MARKS`: whole seconds, comma-separated (default 24 h, 1 h, 10 min; empty: none); anything else stops the engine at start. */
function runwayMarks(env: NodeJS.ProcessEnv): number[] {
  const text = envSetting(env, 'RUNWAY_MARKS') ?? '86400,3600,600';
  const marks = parseRunwayMarks(text);
  if (marks === null) throw new Error(`RUNWAY_MARKS must be whole seconds from 1 to ${MAX_RUNWAY_MARK_SECONDS}, comma-separated, at most ${MAX_RUNWAY_MARKS}, no repeats (got ${JSON.stringify(text)})`);
  return marks;
}

/** An amount setting (`STOP_OVERDRAFT`, `STORAGE_DEBT_LIMIT`): 0 to 1,000,000 with at most 8 decimals; anything else stops the engine at start. */
function ladderAmount(env: NodeJS.ProcessEnv, name: string, fallback: string): Decimal {
  const text = envSetting(env, name) ?? fallback;
  const amount = parseLadderAmount(text);
  if (amount === null) throw new Error(`${name} must be an amount from 0 to 1000000 with at most 8 decimals (got ${JSON.stringify(text)})`);
  return amount;
}

/** The ladder's defaults; a setting out of its rule stops the engine at start. */
function ladder(env: NodeJS.ProcessEnv): LadderSettings {
  const deletion = envSetting(env, 'STORAGE_DELETION_DAYS') ?? '7';
  const storageDeletionMs = parseDays(deletion);
  if (storageDeletionMs === null) throw new Error(`STORAGE_DELETION_DAYS must be days above 0 and up to ${MAX_STORAGE_DELETION_DAYS}, at most 6 decimals (got ${JSON.stringify(deletion)})`);
  const reminders = envSetting(env, 'STORAGE_REMINDER_DAYS') ?? '3,1';
  const storageRemindersMs = parseDaysList(reminders);
  if (storageRemindersMs === null) throw new Error(`STORAGE_REMINDER_DAYS must be days before the deletion (each as STORAGE_DELETION_DAYS), comma-separated, at most ${MAX_STORAGE_REMINDERS}, no repeats (got ${JSON.stringify(reminders)})`);
  const settings: LadderSettings = {
    minRunwayMinutes: envInt(env, 'MIN_RUNWAY_MINUTES', 10, 0, MAX_MIN_RUNWAY_MINUTES),
    runwayMarks: runwayMarks(env),
    stopOverdraft: ladderAmount(env, 'STOP_OVERDRAFT', '0'),
    storageDebtLimit: ladderAmount(env, 'STORAGE_DEBT_LIMIT', '10'),
    storageDeletionMs,
    storageRemindersMs,
  };
  const refused = ladderRefusal(settings);
  if (refused) throw new Error(`STORAGE_DEBT_LIMIT and STOP_OVERDRAFT: ${refused}`);
  return settings;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BillingConfig {
  const httpPort = envInt(env, 'BILLING_HTTP_PORT', 3001, 0, 65_535);
  const subjectPrefix = envToken(env, 'SUBJECT_PREFIX', 'billing', /^[A-Za-z0-9_-]+$/);
  const databaseUrl = envSetting(env, 'DATABASE_URL') ?? DEFAULT_DATABASE_URL;
  // PARTITIONS, SHARDS and SHARD_MAP: read as the gateway reads them (one place, libs/persistence).
  const { partitions, shards } = loadShardConfig(env, databaseUrl);
  return {
    databaseUrl,
    shards,
    natsUrl: env.NATS_URL || DEFAULT_NATS_URL,
    nats: natsAuth('billing', env),
    subjectPrefix,
    eventsStream: envToken(env, 'EVENTS_STREAM', 'BILLING_EVENTS', /^[A-Za-z0-9_-]+$/),
    queueGroup: envToken(env, 'QUEUE_GROUP', 'billing', /^[A-Za-z0-9_.-]+$/),
    mailboxCapacity: envInt(env, 'MAILBOX_CAPACITY', 4096, 1, 1_000_000),
    maxBatchCommands: envInt(env, 'MAX_BATCH_COMMANDS', 1000, 1, 100_000),
    actorIdleMs: envInt(env, 'ACTOR_IDLE_MS', 120_000, 10, 86_400_000),
    dbPoolMax: envInt(env, 'DB_POOL_MAX', 10, 2, 200),
    maxWalletsPerCommit: envInt(env, 'MAX_WALLETS_PER_COMMIT', 500, 1, 100_000),
    concurrentCommits: envInt(env, 'CONCURRENT_COMMITS', 3, 1, 64),
    outboxSweepIntervalMs: envInt(env, 'OUTBOX_SWEEP_INTERVAL_MS', 1000, 10, 600_000),
    priceCatalogPath: env.PRICE_CATALOG || defaultPriceCatalogPath(),
    priceChangeNoticeMs: envInt(env, 'PRICE_CHANGE_NOTICE_MS', 300_000, 0, 365 * 86_400_000),
    tickIntervalMs: envInt(env, 'TICK_INTERVAL_MS', 60_000, 10, 3_600_000),
    holdMinutes: envInt(env, 'HOLD_MINUTES', 60, 0, 10_080),
    ladder: ladder(env),
    stopRepeatMs: envInt(env, 'STOP_REPEAT_MS', 60_000, 100, 3_600_000),
    controlStream: envToken(env, 'CONTROL_STREAM', 'BILLING_CONTROL', /^[A-Za-z0-9_-]+$/),
    lifecycleStream: envToken(env, 'LIFECYCLE_STREAM', 'GPU_LIFECYCLE', /^[A-Za-z0-9_-]+$/),
    lifecycleSubjectPrefix: envToken(env, 'LIFECYCLE_SUBJECT_PREFIX', 'gpu.lifecycle', /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/),
    lifecycleConsumer: envToken(env, 'LIFECYCLE_CONSUMER', 'billing-engine', /^[A-Za-z0-9_-]+$/),
    expirySweepIntervalMs: envInt(env, 'EXPIRY_SWEEP_INTERVAL_MS', 30_000, 10, 3_600_000),
    httpPort,
    healthDetailsToken: healthDetailsToken(env),
    nodeId: envToken(env, 'NODE_ID', defaultNodeId(httpPort), /^[A-Za-z0-9_-]+$/),
    partitions,
    // One bucket per group of processes sharing a subject prefix: another group's leases never mix in.
    ownersBucket: envToken(env, 'OWNERS_BUCKET', `${subjectPrefix.toUpperCase()}_OWNERS`, /^[A-Za-z0-9_-]+$/),
    leaseTtlMs: envInt(env, 'LEASE_TTL_MS', 10_000, 1000, 60_000),
    jetStreamReplicas: jetStreamReplicas(env),
    planSweepIntervalMs: envInt(env, 'PLAN_SWEEP_INTERVAL_MS', 10_000, 10, 3_600_000),
    grantExpiringNoticeMs: envInt(env, 'GRANT_EXPIRING_NOTICE_MS', 3 * 86_400_000, 0, 365 * 86_400_000),
  };
}
