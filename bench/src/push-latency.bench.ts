import { randomBytes } from 'crypto';
import { NatsConnection } from 'nats';
import { io, Socket } from 'socket.io-client';
import { issueToken } from '../../apps/gateway/src/auth/token';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, DEFAULT_JWT_MAX_LIFETIME_SECONDS } from '../../apps/gateway/src/config';
import { benchOperator } from './debits.bench';
import { closedLoop } from './load';
import { start, stop, waitForBalance } from './processes';

const ORGS = 100;
const CLIENTS_PER_ORG = 10;
const LOAD_MS = Number(process.env.BENCH_PUSH_SECONDS ?? 10) * 1000;
const LOAD_CONCURRENCY = 64;
const SECRET = `bench-${randomBytes(12).toString('hex')}`;
/** The gateway's default token settings, with this run's secret. */
const TOKENS = { secret: SECRET, issuer: DEFAULT_JWT_ISSUER, audience: DEFAULT_JWT_AUDIENCE, maxLifetimeSeconds: DEFAULT_JWT_MAX_LIFETIME_SECONDS };

/** Latency from a debit's commit (its reply) to the first push carrying its state, at each client of its organization. */
export interface PushFigures {
  readonly clients: number;
  readonly pacedP50Ms: number;
  readonly pacedP99Ms: number;
  readonly pacedDebitsPerSecond: number;
  readonly saturatedP50Ms: number;
  readonly saturatedP99Ms: number;
  readonly saturatedDebitsPerSecond: number;
}

interface Commit {
  readonly orgId: string;
  readonly seq: number;
  readonly repliedMs: number;
}

/** For each debit, at each client: the first arrival carrying seq >= the debit's, less the debit's reply time. */
function debitLatencies(commits: Commit[], arrivals: { orgId: string; seq: number; arrivedMs: number; client: number }[]): number[] {
  const byClient = new Map<string, { seq: number; arrivedMs: number }[]>();
  for (const a of arrivals) {
    const key = `${a.orgId}#${a.client}`;
    (byClient.get(key) ?? byClient.set(key, []).get(key)!).push(a);
  }
  const out: number[] = [];
  for (const c of commits) {
    for (let client = 0; client < CLIENTS_PER_ORG; client++) {
      const first = byClient.get(`${c.orgId}#${client}`)?.find((a) => a.seq >= c.seq);
      if (first) out.push(Math.max(0, first.arrivedMs - c.repliedMs));
    }
  }
  return out.sort((x, y) => x - y);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** 1,000 socket.io clients over 100 organizations, the engine under debit load: how fresh are the pushes? */
export async function benchPushLatency(ncs: NatsConnection[], env: Record<string, string>, tag: string): Promise<PushFigures> {
  const prefix = `bg${tag}`;
  const engine = await start('bench/src/engine-server.js', { ...env, SUBJECT_PREFIX: prefix, BILLING_HTTP_PORT: '0' });
  const gateway = await start('bench/src/gateway-server.js', { ...env, SUBJECT_PREFIX: prefix, JWT_SECRET: SECRET, GATEWAY_PORT: '0' });
  const { port } = gateway.ready as { port: number };
  const sockets: Socket[] = [];
  try {
    await waitForBalance(ncs[0], prefix);
    const orgs = Array.from({ length: ORGS }, (_, i) => `push-${tag}-${i}`);
    await Promise.all(orgs.map((org) => ncs[0].request(`${prefix}.wallet.${org}.topup`, Buffer.from(JSON.stringify({ idempotencyKey: 'seed', amount: '1000000.00', currency: 'USD', provider: 'stripe', reference: `pi_${org}` })), { timeout: 30_000, headers: benchOperator() })));
    const arrivals: { orgId: string; seq: number; arrivedMs: number; client: number }[] = [];
    const url = `http://127.0.0.1:${port}`;
    for (const org of orgs) {
      for (let c = 0; c < CLIENTS_PER_ORG; c++) {
        const socket = io(url, { auth: { token: issueToken(TOKENS, { org }) }, transports: ['websocket'], forceNew: true, reconnection: false });
        const client = c;
        socket.on('balance', (b: { orgId: string; seq: number }) => arrivals.push({ orgId: b.orgId, seq: b.seq, arrivedMs: Date.now(), client }));
        sockets.push(socket);
      }
    }
    await Promise.all(sockets.map((s) => (s.connected ? Promise.resolve() : new Promise<void>((resolve, reject) => { s.once('connect', () => resolve()); s.once('connect_error', reject); }))));
    await new Promise((r) => setTimeout(r, 1000));
    const background = Array.from({ length: 1000 }, (_, i) => `push-bg-${tag}-${i}`);
    await Promise.all(background.map((org) => ncs[1].request(`${prefix}.wallet.${org}.topup`, Buffer.from(JSON.stringify({ idempotencyKey: 'seed', amount: '1000000.00', currency: 'USD', provider: 'stripe', reference: `pi_${org}` })), { timeout: 30_000, headers: benchOperator() })));

    const measure = async (label: string, watched: () => Promise<{ commits: Commit[]; perSecond: number }>) => {
      arrivals.length = 0;
      const { commits, perSecond } = await watched();
      await new Promise((r) => setTimeout(r, 500));
      const latencies = debitLatencies(commits, arrivals);
      const p50 = percentile(latencies, 50);
      const p99 = percentile(latencies, 99);
      process.stdout.write(`  ${label}: engine at ${perSecond.toFixed(0)} debits/s; a debit's commit -> first push carrying it: p50 ${p50} ms, p99 ${p99} ms (${latencies.length} deliveries)\n`);
      return { p50, p99, perSecond };
    };

    // 1. The watched organizations change a few times a second (as ticks and events do), while the
    //    engine is loaded by 1,000 other organizations: the push is not held by the coalescing window.
    const paced = await measure('paced (4 changes/s per watched org, engine loaded by 1,000 others)', async () => {
      const run = randomBytes(3).toString('hex');
      const bg = closedLoop([ncs[2], ncs[3]], (n) => ({ subject: `${prefix}.wallet.${background[n % background.length]}.debit`, body: Buffer.from(JSON.stringify({ idempotencyKey: `b-${run}-${n}`, amount: '0.01', service: 'vm', workspaceId: 'ws' })) }), LOAD_CONCURRENCY, LOAD_MS);
      const commits: Commit[] = [];
      const end = Date.now() + LOAD_MS;
      let n = 0;
      await Promise.all(orgs.map(async (org, i) => {
        await new Promise((r) => setTimeout(r, (i * 250) / orgs.length));
        while (Date.now() < end) {
          const reply = await ncs[i % 2].request(`${prefix}.wallet.${org}.debit`, Buffer.from(JSON.stringify({ idempotencyKey: `w-${run}-${n++}`, amount: '0.01', service: 'vm', workspaceId: 'ws' })), { timeout: 30_000 });
          const r = JSON.parse(Buffer.from(reply.data).toString('utf8'));
          if (r.ok) commits.push({ orgId: org, seq: r.entry.seq, repliedMs: Date.now() });
          await new Promise((res) => setTimeout(res, 250));
        }
      }));
      const load = await bg;
      return { commits, perSecond: load.perSecond + commits.length / (LOAD_MS / 1000) };
    });

    // 2. Every debit goes to the watched organizations (about 14 per second each): most wait for
    //    the next push of their organization, at most 100 ms later (at most 10 pushes a second).
    const saturated = await measure('saturated (all load on the 100 watched orgs, coalescing active)', async () => {
      const run = randomBytes(3).toString('hex');
      const commits: Commit[] = [];
      const load = await closedLoop(ncs, (n) => ({ subject: `${prefix}.wallet.${orgs[n % ORGS]}.debit`, body: Buffer.from(JSON.stringify({ idempotencyKey: `p-${run}-${n}`, amount: '0.01', service: 'vm', workspaceId: 'ws' })) }), LOAD_CONCURRENCY, LOAD_MS, (subject, reply) => {
        const r = JSON.parse(Buffer.from(reply).toString('utf8'));
        if (r.ok) commits.push({ orgId: subject.split('.')[2], seq: r.entry.seq, repliedMs: Date.now() });
      });
      return { commits, perSecond: load.perSecond };
    });
    const figures: PushFigures = { clients: sockets.length, pacedP50Ms: paced.p50, pacedP99Ms: paced.p99, pacedDebitsPerSecond: paced.perSecond, saturatedP50Ms: saturated.p50, saturatedP99Ms: saturated.p99, saturatedDebitsPerSecond: saturated.perSecond };
    process.stdout.write(`  target: p99 < 100 ms (paced ${paced.p99 < 100 ? 'met' : 'NOT met'}, saturated ${saturated.p99 < 100 ? 'met' : 'NOT met'})\n`);
    return figures;
  } finally {
    for (const s of sockets) s.close();
    await stop(gateway);
    await stop(engine);
  }
}
