export * from './observability.module';
export * from './probes';
export * from './json-logger';
export * from './pretty-logger';
export * from './process-logger';
export * from './env';
export * from './health-details';
