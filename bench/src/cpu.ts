import { readdirSync, readFileSync } from 'fs';

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) of one process, from /proc; 0 if it is gone. */
function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields are counted after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** CPU seconds of every process whose command name is `comm` (e.g. all PostgreSQL backends). */
function cpuSecondsByName(comm: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) total += cpuSecondsOf(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

export interface CpuSample {
  readonly server: number;
  readonly postgres: number;
  readonly nats: number;
  readonly load: number;
}

/**
 * CPU seconds so far of the server under test, PostgreSQL, NATS and this process (the load
 * generator). PostgreSQL backends that exit between two samples are missed: the bench keeps
 * its connections open, so that is rare.
 */
export function cpuSample(serverPid: number): CpuSample {
  const own = process.cpuUsage();
  return { server: cpuSecondsOf(serverPid), postgres: cpuSecondsByName('postgres'), nats: cpuSecondsByName('nats-server'), load: (own.user + own.system) / 1e6 };
}

/** Microseconds of CPU per completed request, per process, between two samples. */
export function cpuPerRequest(before: CpuSample, after: CpuSample, completed: number): string {
  const us = (k: keyof CpuSample) => `${k} ${(((after[k] - before[k]) * 1e6) / Math.max(1, completed)).toFixed(0)} µs`;
  return (['server', 'postgres', 'nats', 'load'] as const).map(us).join(', ');
}
