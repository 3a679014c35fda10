import { readdirSync, readFileSync } from 'fs';

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) of one process, from /proc; 0 if it is gone. */
function cpuSecondsOfPid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields are counted after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

function cmdlineOf(pid: string): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
}

/** CPU seconds of every process whose command name is `comm` and whose command line `counts`. */
function cpuSecondsOf(comm: string, counts: (cmdline: string) => boolean): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm && counts(cmdlineOf(entry))) total += cpuSecondsOfPid(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/**
 * Which PostgreSQL and NATS processes are the bench's: the machine is shared, and other work
 * (tests with NATS servers of their own, their PostgreSQL databases) must not be counted.
 */
export interface CpuScope {
  /** The bench's database: its backends count, other databases' backends do not. */
  readonly database: string;
  /** The port of the NATS server the bench uses. */
  readonly natsPort: string;
  /**
   * PostgreSQL servers the bench started itself, by name (shard), each its postmaster's pid: when
   * given, PostgreSQL's CPU is theirs only (each postmaster and its children, every database of
   * theirs), counted per server too, and the machine's other PostgreSQL processes are not.
   */
  readonly postgresServers?: Readonly<Record<string, number>>;
}

export function cpuScope(env: { DATABASE_URL: string; NATS_URL: string }): CpuScope {
  const nats = new URL(env.NATS_URL);
  return { database: new URL(env.DATABASE_URL).pathname.slice(1), natsPort: nats.port || '4222' };
}

/**
 * PostgreSQL: the postmaster and its shared helpers (WAL writer, checkpointer, autovacuum; they
 * serve every database, so other work's share of them is counted), and the backends of the
 * bench's database. A backend's title reads `postgres: <cluster>: <user> <database> <host>(<port>) <state>`.
 */
function postgresCounts(scope: CpuScope): (cmdline: string) => boolean {
  return (cmdline) => !/\(\d+\)|\[local\]/.test(cmdline) || cmdline.split(/\s+/).includes(scope.database);
}

/** NATS: the server started with the bench's port (`-p`/`--port`); all nats-server processes if none says so. */
function natsCounts(scope: CpuScope): (cmdline: string) => boolean {
  const port = new RegExp(`(^|\\s)(-p|--port)(\\s+|=)${scope.natsPort}(\\s|$)`);
  let anyMatches = false;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'nats-server' && port.test(cmdlineOf(entry))) anyMatches = true;
    } catch {
      // exited meanwhile
    }
  }
  return anyMatches ? (cmdline) => port.test(cmdline) : () => true;
}

export interface CpuSample {
  readonly server: number;
  readonly postgres: number;
  readonly nats: number;
  readonly load: number;
  /** Each of `scope.postgresServers`, by name (empty without them). */
  readonly postgresByServer: Readonly<Record<string, number>>;
}

/** CPU seconds of `pid` and its children (a postmaster: its backends, WAL writer, checkpointer...). */
function cpuSecondsOfTree(pid: number): number {
  let total = cpuSecondsOfPid(pid);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) total += cpuSecondsOfPid(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/**
 * CPU seconds so far of the server under test, the bench's PostgreSQL and NATS processes
 * (`scope`) and this process (the load generator). PostgreSQL backends that exit between two
 * samples are missed: the bench keeps its connections open, so that is rare.
 */
export function cpuSample(serverPid: number, scope: CpuScope): CpuSample {
  const own = process.cpuUsage();
  const postgresByServer = Object.fromEntries(Object.entries(scope.postgresServers ?? {}).map(([name, pid]) => [name, cpuSecondsOfTree(pid)]));
  const postgres = scope.postgresServers ? Object.values(postgresByServer).reduce((a, b) => a + b, 0) : cpuSecondsOf('postgres', postgresCounts(scope));
  return { server: cpuSecondsOfPid(serverPid), postgres, nats: cpuSecondsOf('nats-server', natsCounts(scope)), load: (own.user + own.system) / 1e6, postgresByServer };
}

/** Microseconds of CPU per completed request, per process (the server under test: echo, floor or engine). */
export interface CpuPerRequest {
  readonly server: number;
  readonly postgres: number;
  readonly nats: number;
  readonly load: number;
  /** Each PostgreSQL server of `CpuScope.postgresServers`, by name. */
  readonly postgresByServer: Readonly<Record<string, number>>;
}

/** CPU per completed request, per process, between two samples. */
export function cpuPerRequest(before: CpuSample, after: CpuSample, completed: number): CpuPerRequest {
  const per = (seconds: number) => (seconds * 1e6) / Math.max(1, completed);
  const us = (k: 'server' | 'postgres' | 'nats' | 'load') => per(after[k] - before[k]);
  const postgresByServer = Object.fromEntries(Object.keys(after.postgresByServer).map((name) => [name, per(after.postgresByServer[name] - (before.postgresByServer[name] ?? 0))]));
  return { server: us('server'), postgres: us('postgres'), nats: us('nats'), load: us('load'), postgresByServer };
}

export const cpuTotal = (c: CpuPerRequest) => c.server + c.postgres + c.nats + c.load;

export function formatCpu(c: CpuPerRequest): string {
  const servers = Object.entries(c.postgresByServer).map(([name, v]) => `${name} ${v.toFixed(0)}`);
  return (['server', 'postgres', 'nats', 'load'] as const).map((k) => `${k} ${c[k].toFixed(0)} µs${k === 'postgres' && servers.length ? ` (${servers.join(', ')})` : ''}`).join(', ');
}
