/** Injection tokens for the alert service's infrastructure. */
export const ALERTS_CONFIG = Symbol('AlertsConfig');
export const ALERTS_NATS = Symbol('AlertsNatsConnection');
/** The `@MessagePattern` route of the webhook settings (`<prefix>.alerts.<orgId>.webhooks.<command>`, NatsJsonTransport). */
export const WEBHOOKS_ROUTE = 'webhooks';
