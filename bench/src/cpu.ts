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
}

/**
 * CPU seconds so far of the server under test, the bench's PostgreSQL and NATS processes
 * (`scope`) and this process (the load generator). PostgreSQL backends that exit between two
 * samples are missed: the bench keeps its connections open, so that is rare.
 */
export function cpuSample(serverPid: number, scope: CpuScope): CpuSample {
  const own = process.cpuUsage();
  return { server: cpuSecondsOfPid(serverPid), postgres: cpuSecondsOf('postgres', postgresCounts(scope)), nats: cpuSecondsOf('nats-server', natsCounts(scope)), load: (own.user + own.system) / 1e6 };
}

/** Microseconds of CPU per completed request, per process (the server under test: echo, floor or engine). */
export type CpuPerRequest = { readonly [K in keyof CpuSample]: number };

/** CPU per completed request, per process, between two samples. */
export function cpuPerRequest(before: CpuSample, after: CpuSample, completed: number): CpuPerRequest {
  const us = (k: keyof CpuSample) => ((after[k] - before[k]) * 1e6) / Math.max(1, completed);
  return { server: us('server'), postgres: us('postgres'), nats: us('nats'), load: us('load') };
}

export const cpuTotal = (c: CpuPerRequest) => c.server + c.postgres + c.nats + c.load;

export function formatCpu(c: CpuPerRequest): string {
  return (['server', 'postgres', 'nats', 'load'] as const).map((k) => `${k} ${c[k].toFixed(0)} µs`).join(', ');
}
