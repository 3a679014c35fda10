import { defineConfig, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { GrantEntity, LedgerEntryEntity, MeterEntity, OperatorActionEntity, OperatorActionOutcomeEntity, OutboxEventEntity, PartitionEpochEntity, PlanSubscriptionEntity, PriceVersionEntity, RejectedLifecycleEventEntity, ResourceEntity, TopupIntentEntity, TopupRefundEntity, VoucherCodeEntity, VoucherRedemptionEntity, WalletEntity, WebhookDeliveryEntity, WebhookEndpointEntity } from './entities';
import { MIGRATIONS } from './migrations';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/test';
/**
 * DATABASE_URL (or DATABASE_URL_FILE) as a guarded setting: the default is a local database with
 * trust authentication, which production refuses; a deployment names its own, with its password.
 */
export const DATABASE_URL_SETTING = { name: 'DATABASE_URL', devDefault: DEFAULT_DATABASE_URL } as const;

export function ormConfig(databaseUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL, poolMax = 10) {
  return defineConfig({
    driver: PostgreSqlDriver,
    clientUrl: databaseUrl,
    entities: [WalletEntity, GrantEntity, LedgerEntryEntity, OutboxEventEntity, MeterEntity, ResourceEntity, RejectedLifecycleEventEntity, WebhookEndpointEntity, WebhookDeliveryEntity, VoucherCodeEntity, VoucherRedemptionEntity, PlanSubscriptionEntity, TopupIntentEntity, TopupRefundEntity, PartitionEpochEntity, PriceVersionEntity, OperatorActionEntity, OperatorActionOutcomeEntity],
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: true },
    // A database that does not answer (a shard cut off) fails a request in seconds, not the drivers' minutes.
    pool: { min: 1, max: poolMax },
    driverOptions: { acquireConnectionTimeout: 10_000, connection: { connectionTimeoutMillis: 5_000 } },
    debug: false,
    allowGlobalContext: false,
    migrations: {
      tableName: 'mikro_orm_migrations',
      path: 'dist/libs/persistence/src/migrations',
      pathTs: 'libs/persistence/src/migrations',
      migrationsList: MIGRATIONS,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
  });
}

export default ormConfig();
