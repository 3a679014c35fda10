import { NatsConnection } from 'nats';
import { Client } from 'pg';
import { startPostgres, TestPostgres } from '../../test/support/servers';
import { cpuScope, cpuTotal, CpuPerRequest } from './cpu';
import { BenchEnv, Measured, measure, ORGS, seed, SPREAD, withServer } from './debits.bench';
import { describeShape } from './load';
import { waitForBalance } from './processes';

const PARTITIONS = Number(process.env.PARTITIONS ?? 64);
/** One-shard and two-shard runs alternate this many times (BENCH_SHARD_ROUNDS). */
const ROUNDS = Number(process.env.BENCH_SHARD_ROUNDS ?? 1);
const SHARD_NAMES = ['a', 'b'] as const;

/** One engine run under the debit load: its shards, its figures, and the debits committed per second in each shard. */
export interface ShardRun {
  readonly shards: number;
  readonly measured: Measured;
  /** Debits committed per second in each shard's database (ledger rows), by shard. */
  readonly perShard: Readonly<Record<string, number>>;
}

/** Each round: the engine on one shard (the baseline), then the same engine on two. */
export interface ShardFigures {
  readonly rounds: readonly { readonly one: ShardRun; readonly two: ShardRun }[];
}

async function countDebits(url: string): Promise<number> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    return (await db.query("select count(*)::int as n from ledger_entries where type = 'debit'")).rows[0].n;
  } catch (error) {
    // A shard no process has used yet has no tables (its migrations run when one of its partitions is taken).
    if ((error as { code?: string }).code === '42P01') return 0;
    throw error;
  } finally {
    await db.end();
  }
}

/** a / b; none when b is under 1 (µs of an idle server, or no debits): such a ratio says nothing. */
const ratio = (a: number, b: number) => (b >= 1 ? (a / b).toFixed(2) : '-');

/** CPU per debit of each process of `run` beside the baseline's, as lines. */
function cpuLines(two: CpuPerRequest, one: CpuPerRequest): string[] {
  const rows: [string, number, number][] = [
    ['engine process', two.server, one.server],
    ...SHARD_NAMES.map((s) => [`PostgreSQL ${s}`, two.postgresByServer[s] ?? 0, one.postgresByServer[s] ?? 0] as [string, number, number]),
    ['PostgreSQL, both', two.postgres, one.postgres],
    ['NATS', two.nats, one.nats],
    ['load generator', two.load, one.load],
    ['in all', cpuTotal(two), cpuTotal(one)],
  ];
  return rows.map(([name, t, o]) => `    ${name.padEnd(18)} ${t.toFixed(0).padStart(5)} µs   one shard ${o.toFixed(0).padStart(5)} µs   ratio ${ratio(t, o)}`);
}

/**
 * BENCH_ONLY=shards: the engine with 1,000 organizations under the debit load (512 in flight over 4
 * connections), first with one shard (the baseline), then with two (SHARDS=a=...,b=...,
 * SHARD_MAP=0-31=a,32-63=b), on two PostgreSQL servers the bench starts itself (initdb in
 * temporary folders, free ports: test/support/servers.ts), the global home in a database of
 * shard a's server. Reports debits/s per shard (ledger rows committed in each shard's database in
 * the measured window) and the CPU per debit of each process (the engine, each PostgreSQL server
 * with all its processes, NATS, the load generator), each beside the one-shard run's, as ratios.
 */
export async function benchShards(ncs: NatsConnection[], env: BenchEnv, tag: string): Promise<ShardFigures> {
  process.stdout.write(`\nthe engine on one shard, then on two (two PostgreSQL servers of the bench's own), ${ORGS} organizations, ${describeShape(SPREAD)}\n`);
  const servers: TestPostgres[] = [];
  try {
    for (const name of SHARD_NAMES) servers.push(await startPostgres({ database: `shard_${name}` }));
    const [pgA, pgB] = servers;
    const home = new URL(pgA.url);
    home.pathname = '/home';
    const admin = new Client({ connectionString: pgA.url });
    await admin.connect();
    await admin.query('create database home');
    await admin.end();
    const url: Record<string, string> = { a: pgA.url, b: pgB.url };
    const scope = { ...cpuScope(env), postgresServers: { a: pgA.pid, b: pgB.pid } };
    const counters = Object.fromEntries(SHARD_NAMES.map((s) => [s, () => countDebits(url[s])]));
    const half = PARTITIONS / 2;
    const settings = {
      1: { SHARDS: `a=${pgA.url}`, SHARD_MAP: `0-${PARTITIONS - 1}=a` },
      2: { SHARDS: `a=${pgA.url},b=${pgB.url}`, SHARD_MAP: `0-${half - 1}=a,${half}-${PARTITIONS - 1}=b` },
    };
    const runOnce = async (shards: 1 | 2, round: number): Promise<ShardRun> => {
      const prefix = `bs${shards}${round}${tag}`;
      // Organizations of their own in each run: the baseline's rows in shard a are not the two-shard run's.
      const orgs = Array.from({ length: ORGS }, (_, i) => `s${shards}r${round}-org-${i}`);
      const measured = await withServer('bench/src/engine-server.js', { ...env, ...settings[shards], DATABASE_URL: home.toString(), PARTITIONS: String(PARTITIONS), SUBJECT_PREFIX: prefix, DB_POOL_MAX: '10' }, async (engine) => {
        await waitForBalance(ncs[0], prefix);
        await seed(ncs[0], prefix, orgs);
        return measure(`engine, ${shards} shard${shards > 1 ? 's' : ''} (${settings[shards].SHARD_MAP})`, ncs, SPREAD, prefix, orgs, { child: engine, scope, commits: true, counters });
      });
      return { shards, measured, perShard: measured.counted ?? {} };
    };
    const rounds: { one: ShardRun; two: ShardRun }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const one = await runOnce(1, round);
      const two = await runOnce(2, round);
      rounds.push({ one, two });
      const base = one.measured.perSecond;
      process.stdout.write(`\n  round ${round}: two shards against one (the baseline of this round)\n`);
      process.stdout.write(`    debits/s, all          ${two.measured.perSecond.toFixed(0).padStart(7)}   one shard ${base.toFixed(0).padStart(7)}   ratio ${ratio(two.measured.perSecond, base)}\n`);
      for (const s of SHARD_NAMES) process.stdout.write(`    debits/s, shard ${s}      ${(two.perShard[s] ?? 0).toFixed(0).padStart(7)}   one shard ${base.toFixed(0).padStart(7)}   ratio ${ratio(two.perShard[s] ?? 0, base)}\n`);
      if (two.measured.cpu && one.measured.cpu) {
        process.stdout.write(`    CPU per debit (every debit of the run), by process\n`);
        for (const line of cpuLines(two.measured.cpu, one.measured.cpu)) process.stdout.write(`${line}\n`);
        const own = SHARD_NAMES.map((s) => `${s} ${(((two.measured.cpu?.postgresByServer[s] ?? 0) * two.measured.perSecond) / Math.max(1, two.perShard[s] ?? 0)).toFixed(0)} µs`);
        process.stdout.write(`    PostgreSQL CPU per debit committed in its own shard: ${own.join(', ')} (one shard: a ${one.measured.cpu.postgresByServer.a.toFixed(0)} µs)\n`);
      }
    }
    return { rounds };
  } finally {
    for (const server of servers) await server.stop();
  }
}
