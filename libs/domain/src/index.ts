export * from './allocation';
export * from './currency';
export * from './grant';
export * from './ledger-entry';
export * from './money';
export * from './refusal';
export * from './wallet';
