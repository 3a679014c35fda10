import { ChildProcess, execFile, spawn } from 'child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import { promisify } from 'util';
import { NatsConnection } from 'nats';
import { NatsRole } from '../../libs/messaging/src/nats-auth';
import { engineEnv, NATS_URL, TestNames } from './engine';
import { connectAs } from './nats-roles';

const ROOT = path.join(__dirname, '..', '..');
/**
 * The engine is compiled once per test run into a folder of its own (not `dist/`, which other
 * commands build and run at the same time). Under `node_modules/` so that the compiled files
 * resolve the project's packages, and below the folder holding package.json so that the engine
 * finds its default price catalog the way it does from `dist/`.
 */
export const ENGINE_BUILD_DIR = path.join(ROOT, 'node_modules', '.cache', 'crash-engine');
const MAIN = path.join(ENGINE_BUILD_DIR, 'apps', 'billing', 'src', 'main.js');
const REGISTER = path.join(ENGINE_BUILD_DIR, 'register-paths.js');

/** How long a started engine may take to answer its first `balance` request. */
export const ENGINE_READY_TIMEOUT_MS = 60_000;

/**
 * Compiles the sources the way `npm run build` does (incremental: a second run takes a few
 * seconds). Type errors elsewhere in the tree do not stop the emit; a missing entry point does.
 */
export async function buildEngine(): Promise<void> {
  mkdirSync(ENGINE_BUILD_DIR, { recursive: true });
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', ENGINE_BUILD_DIR, '--incremental', '--tsBuildInfoFile', path.join(ENGINE_BUILD_DIR, '.tsbuildinfo')], { cwd: ROOT, maxBuffer: 16 << 20 });
  } catch (error) {
    const out = (error as { stdout?: string }).stdout ?? String(error);
    if (!existsSync(MAIN)) throw new Error(`the engine could not be compiled:\n${out}`);
    process.stderr.write(`tsc reported errors, the engine was emitted anyway:\n${out.slice(0, 4000)}\n`);
  }
  // The `@billing/*` aliases, resolved inside this build (scripts/register-paths.js does it for dist/).
  const { compilerOptions } = require(path.join(ROOT, 'tsconfig.json'));
  writeFileSync(
    REGISTER,
    `require(${JSON.stringify(require.resolve('tsconfig-paths', { paths: [ROOT] }))}).register({ baseUrl: ${JSON.stringify(ENGINE_BUILD_DIR)}, paths: ${JSON.stringify(compilerOptions.paths)} });\n`,
  );
}

/**
 * A test engine process's settings: those of any test engine, with quick ticks and outbox sweeps,
 * and a NODE_ID kept across restarts (as a deployment gives each process), so that a restarted
 * process takes its partitions back at once instead of waiting for their leases to expire.
 */
export function engineProcessEnv(names: TestNames, env: Record<string, string> = {}): Record<string, string> {
  return engineEnv(names, { TICK_INTERVAL_MS: '200', OUTBOX_SWEEP_INTERVAL_MS: '200', NODE_ID: `${names.subjectPrefix}-engine`, ...env });
}

/**
 * The billing engine as a real child process (compiled JS, the engine's own Node flags), which a
 * test can kill with SIGKILL and start again. Its JSON logs go to `logFile`.
 */
export class EngineProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  starts = 0;
  kills = 0;
  readonly logFile: string;

  constructor(private readonly env: Record<string, string>, private readonly nc: NatsConnection, private readonly prefix: string, name = prefix) {
    this.logFile = path.join(tmpdir(), `billing-engine-${name}.log`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process; does not wait for it to be ready (see `waitReady`). */
  spawn(): void {
    if (this.alive) throw new Error('the engine is already running');
    const flags: string[] = require(path.join(ROOT, 'scripts', 'engine-node-flags.js'));
    const log = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, [...flags, '-r', REGISTER, MAIN], {
      cwd: ROOT,
      // JSON lines, as production writes them: tests read the log (adversary-driver waits for a message in it).
      env: { PATH: process.env.PATH ?? '', LOG_FORMAT: 'json', ...this.env },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    this.child = child;
    this.starts++;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  async start(): Promise<void> {
    this.spawn();
    await this.waitReady();
  }

  /** Resolves once the engine answers a `balance` request (as scripts/start.js waits for it). */
  async waitReady(timeoutMs = ENGINE_READY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.alive) throw new Error(`the engine exited during start (${this.child?.exitCode ?? this.child?.signalCode}); see ${this.logFile}`);
      try {
        const msg = await this.nc.request(`${this.prefix}.wallet.readiness-probe.balance`, new Uint8Array(), { timeout: 500 });
        if (JSON.parse(Buffer.from(msg.data).toString('utf8')).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the engine did not answer a balance request within ${timeoutMs} ms; see ${this.logFile}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Resolves with the exit code (or signal) once the process has ended; rejects if it still runs after `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<number | string | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the engine still runs after ${timeoutMs} ms`)), timeoutMs)));
    try {
      await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return this.child?.exitCode ?? this.child?.signalCode ?? null;
  }

  /** SIGKILL: no shutdown hook runs, in-flight work is lost as in a power cut. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.child!.kill('SIGKILL');
    this.kills++;
    await this.exited;
  }

  /** An orderly stop at the end of a test (SIGTERM, then SIGKILL if it hangs). */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * A NATS connection for the test itself, which rides out a NATS restart: as `operator` (top-ups,
 * debits, setting up and reading the streams) unless the test plays another role.
 */
export function connectTestClient(name: string, natsUrl = NATS_URL, role: NatsRole = 'operator'): Promise<NatsConnection> {
  return connectAs(role, { url: natsUrl, name, maxReconnectAttempts: -1, reconnectTimeWait: 200, pingInterval: 2_000 });
}
