import { connect, NatsConnection } from 'nats';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** A connection that keeps reconnecting for as long as the process lives. */
export function connectNats(url: string, name: string): Promise<NatsConnection> {
  // noAsyncTraces: no Error object per request just to keep a stack for a timeout message.
  return connect({ servers: url.split(','), name, maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 10_000, noAsyncTraces: true });
}
