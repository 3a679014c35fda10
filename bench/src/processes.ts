import { ChildProcess, fork } from 'child_process';
import path from 'path';
import { NatsConnection } from 'nats';

const dist = path.join(__dirname, '..', '..');
const register = path.join(dist, '..', 'scripts', 'register-paths.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const engineFlags: string[] = require(path.join(dist, '..', 'scripts', 'engine-node-flags.js'));

export type Started = ChildProcess & { readonly ready: unknown };

/** Starts a compiled script as a child with the engine's Node flags; resolves with what it says when it is ready. */
export function start(script: string, env: Record<string, string>, extraFlags: string[] = []): Promise<Started> {
  // Any free port for the children's HTTP servers: a benchmark never collides with a running engine.
  const child = fork(path.join(dist, script), [], { env: { ...process.env, BILLING_HTTP_PORT: '0', GATEWAY_PORT: '0', ...env }, execArgv: [...engineFlags, ...extraFlags, '-r', register], stdio: ['ignore', process.env.BENCH_ENGINE_LOG ? require('fs').openSync(process.env.BENCH_ENGINE_LOG, 'a') : 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (ready) => resolve(Object.assign(child, { ready })));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

export interface EngineStats {
  readonly cpu: NodeJS.CpuUsage;
  readonly memory: NodeJS.MemoryUsage;
  readonly billableResources: number;
  readonly resourceActors: number;
  readonly walletActors: number;
  readonly lifecycleApplied: number;
  readonly commits: number;
}

/** Asks the engine child (bench/src/engine-server) for its figures; `gc` collects garbage first. */
export function engineStats(child: ChildProcess, gc = false): Promise<EngineStats> {
  return new Promise((resolve) => {
    const onMessage = (m: { type?: string } & EngineStats) => {
      if (m?.type !== 'stats') return;
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
    child.send({ type: 'stats', gc });
  });
}

/** Group commits done so far by a child that counts them (engine-server and floor-server answer `stats` with `commits`). */
export function commitsSoFar(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (m: { type?: string; commits?: number }) => {
      if (m?.type !== 'stats') return;
      child.off('message', onMessage);
      resolve(m.commits ?? 0);
    };
    child.on('message', onMessage);
    child.send({ type: 'stats', gc: false });
  });
}

/**
 * Starts the engine child's CPU profiler (BENCH_PROFILE=<directory>); the returned function stops
 * it and resolves with the path of the `.cpuprofile` written.
 */
export async function profileEngine(child: ChildProcess): Promise<() => Promise<string>> {
  const reply = (type: string) =>
    new Promise<{ path?: string }>((resolve) => {
      const onMessage = (m: { type?: string; path?: string }) => {
        if (m?.type !== type) return;
        child.off('message', onMessage);
        resolve(m);
      };
      child.on('message', onMessage);
    });
  const started = reply('profile-started');
  child.send({ type: 'profile-start' });
  await started;
  return async () => {
    const stopped = reply('profile-stopped');
    child.send({ type: 'profile-stop', dir: process.env.BENCH_PROFILE });
    return (await stopped).path ?? '';
  };
}

export async function waitForBalance(nc: NatsConnection, prefix: string): Promise<void> {
  for (let i = 0; i < 240; i++) {
    try {
      const r = await nc.request(`${prefix}.wallet.ready.balance`, Buffer.from(''), { timeout: 500 });
      if (Buffer.from(r.data).toString().startsWith('{"ok":true')) return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error('engine did not become ready');
}
