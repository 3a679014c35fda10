export * from './actor';
export * from './actor-registry';
export * from './batcher';
export * from './mailbox';
