/** Injection tokens for the alert service's infrastructure. */
export const ALERTS_CONFIG = Symbol('AlertsConfig');
export const ALERTS_NATS = Symbol('AlertsNatsConnection');
