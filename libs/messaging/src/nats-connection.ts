import { Logger } from '@nestjs/common';
import { connect, NatsConnection } from 'nats';
import { NatsAuth, natsConnectionOptions } from './nats-auth';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** One warning per process about connecting without credentials, however many connections it opens. */
let warnedNoCredentials = false;

/**
 * A connection as `auth`'s role (see `natsAuth`) that keeps reconnecting for as long as the
 * process lives. Without credentials (development only) it logs why, once per process.
 */
export function connectNats(url: string, name: string, auth: NatsAuth): Promise<NatsConnection> {
  if (auth.warning && !warnedNoCredentials) {
    warnedNoCredentials = true;
    new Logger('Nats').warn({ msg: auth.warning, role: auth.role });
  }
  // noAsyncTraces: no Error object per request just to keep a stack for a timeout message.
  return connect({ servers: url.split(','), name, maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 10_000, noAsyncTraces: true, ...natsConnectionOptions(auth) });
}
