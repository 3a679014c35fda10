export * from './observability.module';
export * from './probes';
export * from './json-logger';
export * from './env';
export * from './health-details';
