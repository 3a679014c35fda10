export * from './nats-connection';
export * from './outbox-relay';
export * from './streams';
