export * from './grant.entity';
export * from './ledger-entry.entity';
export * from './outbox-event.entity';
export * from './wallet.entity';
