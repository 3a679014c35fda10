/** Injection tokens for the engine's infrastructure. */
export const CONFIG = Symbol('BillingConfig');
export const NATS = Symbol('NatsConnection');

/**
 * The engine's request routes (`@MessagePattern` names of NatsJsonTransport): `wallet` and `admin`
 * for clients, in the queue group; `node` for this process's peers (and their pings).
 */
export const ROUTES = { wallet: 'wallet', admin: 'admin', node: 'node' } as const;
