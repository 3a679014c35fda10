export * from './grant.entity';
export * from './ledger-entry.entity';
export * from './meter.entity';
export * from './outbox-event.entity';
export * from './rejected-lifecycle-event.entity';
export * from './resource.entity';
export * from './wallet.entity';
