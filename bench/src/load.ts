import { NatsConnection } from 'nats';

export interface LoadResult {
  readonly completed: number;
  readonly failed: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly firstError: string | null;
}

/**
 * How the load reaches a server: `inFlight` requests at all times, spread over `connections`
 * NATS connections of the load generator. The same request stream under a different shape
 * shows what the client's side of NATS costs (one connection is one socket, one parser).
 */
export interface LoadShape {
  readonly connections: number;
  readonly inFlight: number;
}

export const describeShape = (s: LoadShape) => `${s.inFlight} in flight over ${s.connections} connection${s.connections === 1 ? '' : 's'}`;

const OK_PREFIX = Buffer.from('{"ok":true');

/** Every reply of the wire contract starts with its `ok` flag: no need to decode the rest. */
function isOk(data: Uint8Array): boolean {
  if (data.length < OK_PREFIX.length) return false;
  for (let i = 0; i < OK_PREFIX.length; i++) if (data[i] !== OK_PREFIX[i]) return false;
  return true;
}

/**
 * Closed-loop load: `concurrency` requests in flight at all times, spread over the connections,
 * for `durationMs`. A reply counts as completed only if it says `"ok":true`.
 */
export async function closedLoop(
  connections: NatsConnection[],
  request: (n: number) => { subject: string; body: Uint8Array },
  concurrency: number,
  durationMs: number,
  onReply?: (subject: string, data: Uint8Array) => void,
): Promise<LoadResult> {
  let next = 0;
  let completed = 0;
  let failed = 0;
  let firstError: string | null = null;
  const started = process.hrtime.bigint();
  const end = Date.now() + durationMs;
  const worker = async (w: number) => {
    const nc = connections[w % connections.length];
    while (Date.now() < end) {
      const { subject, body } = request(next++);
      try {
        const reply = await nc.request(subject, body, { timeout: 30_000 });
        onReply?.(subject, reply.data);
        if (isOk(reply.data)) completed++;
        else {
          failed++;
          firstError ??= Buffer.from(reply.data).toString('utf8').slice(0, 300);
        }
      } catch (error) {
        failed++;
        firstError ??= String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { completed, failed, seconds, perSecond: completed / seconds, firstError };
}
