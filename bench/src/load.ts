import { NatsConnection } from 'nats';

export interface LoadResult {
  readonly completed: number;
  readonly failed: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly firstError: string | null;
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
        const text = Buffer.from(reply.data).toString('utf8');
        if (text.startsWith('{"ok":true')) completed++;
        else {
          failed++;
          firstError ??= text.slice(0, 300);
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
