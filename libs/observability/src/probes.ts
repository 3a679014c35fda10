import { NatsConnection } from 'nats';
import { Probe } from './observability.module';

/** NATS answers when a round trip to the server completes. */
export function natsProbe(nc: () => NatsConnection): Probe {
  return async () => {
    const c = nc();
    if (c.isClosed()) throw new Error('connection closed');
    await c.rtt();
  };
}

/** PostgreSQL answers `select 1`. */
export function postgresProbe(query: (sql: string) => Promise<unknown>): Probe {
  return async () => {
    await query('select 1');
  };
}
