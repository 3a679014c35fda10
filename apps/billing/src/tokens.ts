/** Injection tokens for the engine's infrastructure. */
export const CONFIG = Symbol('BillingConfig');
export const NATS = Symbol('NatsConnection');
