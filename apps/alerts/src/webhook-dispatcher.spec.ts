import { AlertEvent } from './alert-event';
import { RetryPolicy } from './retry-policy';
import { PostResult, WebhookAttempt, WebhookDispatcher, WebhookStore, WebhookTargetRef } from './webhook-dispatcher';
import { verifyWebhookSignature } from './webhook-signature';

/** The dispatcher's decisions over an in-memory record table (the database itself is exercised in test/alerts.e2e-spec.ts). */
class MemoryStore implements WebhookStore {
  readonly rows = new Map<string, { status: 'delivered' | 'failed'; attempts: number; firstAttemptAt: Date }>();
  failWrites = false;
  constructor(private readonly endpoints: { id: string; url: string; secret: string }[], private readonly now: () => number) {}

  async targets(_orgId: string, eventId: string): Promise<WebhookTargetRef[]> {
    return this.endpoints.map((endpoint) => ({ endpoint, delivery: this.rows.get(`${endpoint.id}|${eventId}`) ?? null }));
  }
  async recordDelivered(endpointId: string, eventId: string): Promise<void> {
    if (this.failWrites) throw new Error('database down');
    const row = this.rows.get(`${endpointId}|${eventId}`);
    this.rows.set(`${endpointId}|${eventId}`, { status: 'delivered', attempts: (row?.attempts ?? 0) + 1, firstAttemptAt: row?.firstAttemptAt ?? new Date(this.now()) });
  }
  async recordFailure(endpointId: string, eventId: string): Promise<{ attempts: number; firstAttemptAt: Date } | null> {
    if (this.failWrites) throw new Error('database down');
    const row = this.rows.get(`${endpointId}|${eventId}`);
    if (row?.status === 'delivered') return null;
    const next = { status: 'failed' as const, attempts: (row?.attempts ?? 0) + 1, firstAttemptAt: row?.firstAttemptAt ?? new Date(this.now()) };
    this.rows.set(`${endpointId}|${eventId}`, next);
    return next;
  }
}

describe('webhook dispatcher', () => {
  const policy: RetryPolicy = { firstRetryDelayMs: 1000, maxRetryDelayMs: 8000, giveUpAfterMs: 60_000 };
  const event: AlertEvent = { eventId: '6f1c2a3e-9b1d-4c55-8a0e-0e7f1f2b3c4d', type: 'depleted', orgId: 'org-1' };
  const body = Buffer.from(JSON.stringify({ ...event, seq: 1 }));
  const endpoints = [
    { id: 'a', url: 'https://a.example/hook', secret: 'secret-a-0123456789' },
    { id: 'b', url: 'https://b.example/hook', secret: 'secret-b-0123456789' },
  ];
  let nowMs: number;
  let answers: Record<string, boolean[]>;
  let sent: { url: string; signed: boolean }[];
  let attempts: WebhookAttempt[];

  function setup() {
    nowMs = 1_790_000_000_000;
    sent = [];
    attempts = [];
    const store = new MemoryStore(endpoints, () => nowMs);
    const post = async (url: string, b: Uint8Array, headers: Record<string, string>): Promise<PostResult> => {
      const secret = endpoints.find((e) => e.url === url)!.secret;
      sent.push({ url, signed: verifyWebhookSignature(b, headers['X-Billing-Signature'], secret, 1, Math.floor(nowMs / 1000)) });
      await new Promise((r) => setImmediate(r));
      nowMs += 40;
      return (answers[url]?.shift() ?? true) ? { ok: true } : { ok: false, error: 'HTTP 500' };
    };
    const dispatcher = new WebhookDispatcher(store, { retry: policy, requestTimeoutMs: 1000, post, now: () => nowMs, random: () => 0.5, observe: (a) => attempts.push(a) });
    return { store, dispatcher };
  }

  it('retries only the endpoint that failed, signing every attempt, and is done once it succeeds', async () => {
    answers = { 'https://b.example/hook': [false] };
    const { dispatcher } = setup();
    expect(await dispatcher.dispatch(event, body)).toEqual({ kind: 'retry', delayMs: 750 });
    expect(await dispatcher.dispatch(event, body)).toEqual({ kind: 'done', delivered: 2, gaveUp: 0 });
    expect(sent.map((s) => s.url)).toEqual(['https://a.example/hook', 'https://b.example/hook', 'https://b.example/hook']);
    expect(sent.every((s) => s.signed)).toBe(true);
  });

  it('tries once more when the event comes back at the end of the window, then gives up', async () => {
    answers = { 'https://b.example/hook': Array(100).fill(false) };
    const { dispatcher, store } = setup();
    expect((await dispatcher.dispatch(event, body)).kind).toBe('retry');
    nowMs += 60_000;
    expect(await dispatcher.dispatch(event, body)).toEqual({ kind: 'done', delivered: 1, gaveUp: 1 });
    expect(store.rows.get(`b|${event.eventId}`)).toMatchObject({ status: 'failed', attempts: 2 });
    expect(sent.filter((s) => s.url === 'https://b.example/hook')).toHaveLength(2);
  });

  it('does not send again a success it could not record, and records it when the database is back', async () => {
    answers = {};
    const { dispatcher, store } = setup();
    store.failWrites = true;
    expect((await dispatcher.dispatch(event, body)).kind).toBe('retry');
    store.failWrites = false;
    expect(await dispatcher.dispatch(event, body)).toEqual({ kind: 'done', delivered: 2, gaveUp: 0 });
    expect(sent).toHaveLength(2);
  });

  it('sends an event handed over twice at once only once per endpoint', async () => {
    answers = {};
    const { dispatcher } = setup();
    const [one, two] = await Promise.all([dispatcher.dispatch(event, body), dispatcher.dispatch(event, body)]);
    expect(one).toEqual({ kind: 'done', delivered: 2, gaveUp: 0 });
    expect(two).toEqual({ kind: 'done', delivered: 2, gaveUp: 0 });
    expect(sent).toHaveLength(2);
  });

  it('tells its observer what came of every request, and how long it took', async () => {
    answers = { 'https://b.example/hook': Array(100).fill(false) };
    const { dispatcher } = setup();
    await dispatcher.dispatch(event, body);
    nowMs += 60_000;
    await dispatcher.dispatch(event, body);
    expect(attempts.map((a) => a.outcome).sort()).toEqual(['delivered', 'gave_up', 'retry']);
    // Each answer comes 40 ms of the injected clock after its request.
    expect(attempts.every((a) => a.durationMs >= 40)).toBe(true);
  });

  it('records an endpoint whose secret cannot be opened as a failed attempt, sends it nothing, and still serves the others', async () => {
    const failures: string[] = [];
    const posted: string[] = [];
    const store: WebhookStore = {
      targets: async () => [
        { endpoint: { ...endpoints[0], secret: '' }, delivery: null, unusable: 'the signing secret cannot be decrypted' },
        { endpoint: endpoints[1], delivery: null },
      ],
      recordDelivered: async () => undefined,
      recordFailure: async (_id, _event, error) => (failures.push(error), { attempts: 1, firstAttemptAt: new Date() }),
    };
    const dispatcher = new WebhookDispatcher(store, { retry: policy, requestTimeoutMs: 1000, post: async (url) => (posted.push(url), { ok: true }), random: () => 0.5 });
    expect(await dispatcher.dispatch(event, body)).toEqual({ kind: 'retry', delayMs: 750 });
    expect(posted).toEqual(['https://b.example/hook']);
    expect(failures).toEqual(['the signing secret cannot be decrypted']);
  });

  it('counts a failed request as settled when the event was delivered there meanwhile by another process', async () => {
    const observed: WebhookAttempt[] = [];
    const store: WebhookStore = { targets: async () => [{ endpoint: endpoints[0], delivery: null }], recordDelivered: async () => undefined, recordFailure: async () => null };
    const dispatcher = new WebhookDispatcher(store, { retry: policy, requestTimeoutMs: 1000, post: async () => ({ ok: false, error: 'HTTP 500' }), observe: (a) => observed.push(a) });
    expect(await dispatcher.dispatch(event, body)).toEqual({ kind: 'done', delivered: 0, gaveUp: 0 });
    expect(observed.map((a) => a.outcome)).toEqual(['settled']);
  });
});
