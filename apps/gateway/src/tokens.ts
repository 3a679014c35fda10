export const GATEWAY_CONFIG = Symbol('GatewayConfig');
export const GATEWAY_NATS = Symbol('GatewayNats');
