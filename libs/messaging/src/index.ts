export * from './nats-auth';
export * from './nats-connection';
export * from './outbox-relay';
export * from './streams';
export * from './jetstream-publisher';
export * from './nats-json.transport';
export * from './bounded-consumer';
