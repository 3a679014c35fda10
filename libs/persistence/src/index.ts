export * from './database';
export * from './entities';
export * from './mikro-orm.config';
export * from './outbox.repository';
export * from './row-mapping';
export * from './wallet.repository';
export * from './resource.repository';
export * from './webhook.repository';
