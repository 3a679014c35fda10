import { ChildProcess, execFileSync, spawn } from 'child_process';
import { chownSync, closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'fs';
import net from 'net';
import { tmpdir } from 'os';
import path from 'path';
import { Client } from 'pg';

/**
 * Servers a test starts for itself, to break them on purpose (stop, restart, cut the network)
 * without touching the machine's shared PostgreSQL and NATS, which other tests and people use.
 * Each is stopped by the pid this file started, never by name: another test's server runs the
 * same binary.
 */

const HOST = '127.0.0.1';
const NATS_SERVER = '/usr/sbin/nats-server';
const START_TIMEOUT_MS = 30_000;
/** How long a server may take to stop on its polite signal before it is killed. */
const STOP_TIMEOUT_MS = 10_000;

/** Children still running, killed (by pid) if the test process exits without stopping them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A port nobody listens on now: the kernel picks it, we release it for the server to take. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** No pid: the binary could not be started at all. */
function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Resolves with the exit code once the process has ended, or never started. */
function exited(child: ChildProcess): Promise<number | null> {
  if (!isRunning(child)) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', resolve));
}

function startChild(command: string, args: string[], logFile: string, user?: { uid: number; gid: number }, cwd?: string, env?: Record<string, string>): ChildProcess {
  const log = openSync(logFile, 'a');
  const child = spawn(command, args, { stdio: ['ignore', log, log], cwd, ...user, env: env && { ...process.env, ...env } });
  closeSync(log);
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.once('error', () => running.delete(child)); // a binary that could not be started (the caller sees no pid)
  return child;
}

/** Sends `signal` to this child's pid, then SIGKILL if it has not exited in time. */
async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (!isRunning(child)) return;
  const done = exited(child);
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await done;
  clearTimeout(timer);
}

/** Polls `probe` until it succeeds; fails at once if the server exited, with its log to say why. */
async function waitUntil(child: ChildProcess, what: string, logFile: string, probe: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!isRunning(child)) throw new Error(`${what} exited during start (${child.exitCode ?? child.signalCode}); see ${logFile}`);
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} did not accept connections within ${START_TIMEOUT_MS} ms (${String(error)}); see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function tcpConnects(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST, () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

// ---- PostgreSQL ---------------------------------------------------------------------------------

export interface TestPostgres {
  /** The database created for the test, e.g. `postgresql://postgres@127.0.0.1:PORT/test`. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly dataDir: string;
  /** Fast shutdown of this server (SIGINT to its pid, SIGKILL if it hangs); removes its folder. */
  stop(): Promise<void>;
}

export interface PostgresOptions {
  readonly database?: string;
  /** Engine processes keep pools of about 10 connections each. */
  readonly maxConnections?: number;
}

/**
 * A throwaway cluster: `initdb` in a temp folder, `postgres` on a free port. initdb and postgres
 * refuse to run as root, so both run as the `postgres` OS user; they are spawned with its uid
 * directly (not through runuser or su) so that the pid held is postgres's own and a signal sent
 * to it is the one postgres gets.
 */
export async function startPostgres(opts: PostgresOptions = {}): Promise<TestPostgres> {
  const bin = path.join('/usr/lib/postgresql', readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))[0], 'bin');
  const user = { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) };
  const folder = mkdtempSync(path.join(tmpdir(), 'test-postgres-'));
  chownSync(folder, user.uid, user.gid);
  const dataDir = path.join(folder, 'data');
  const logFile = path.join(folder, 'postgres.log');
  let child: ChildProcess | undefined;
  try {
    const initdb = startChild(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync'], logFile, user, folder);
    const code = await exited(initdb);
    if (code !== 0) throw new Error(`initdb exited with ${code}; see ${logFile}`);

    const port = await freePort();
    // Durability is not under test here (this server is never crashed), speed is.
    const settings = { listen_addresses: HOST, unix_socket_directories: folder, fsync: 'off', full_page_writes: 'off', shared_buffers: '32MB', max_connections: String(opts.maxConnections ?? 100) };
    const args = ['-D', dataDir, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const postgres = startChild(path.join(bin, 'postgres'), args, logFile, user, folder);
    child = postgres;
    const admin = `postgresql://postgres@${HOST}:${port}/postgres`;
    await waitUntil(postgres, 'postgres', logFile, async () => {
      const client = new Client({ connectionString: admin, connectionTimeoutMillis: 1000 });
      await client.connect();
      await client.end();
    });
    const database = opts.database ?? 'test';
    const client = new Client({ connectionString: admin });
    await client.connect();
    await client.query(`create database "${database}"`);
    await client.end();
    const stop = async () => {
      await stopChild(postgres, 'SIGINT');
      rmSync(folder, { recursive: true, force: true });
    };
    return { url: `postgresql://postgres@${HOST}:${port}/${database}`, port, pid: postgres.pid!, dataDir, stop };
  } catch (error) {
    if (child) await stopChild(child, 'SIGINT');
    rmSync(folder, { recursive: true, force: true });
    throw error;
  }
}

// ---- NATS ---------------------------------------------------------------------------------------

export interface TestNats {
  readonly url: string;
  readonly port: number;
  /** The server's log (permission violations are logged there). */
  readonly logFile: string;
  /** The pid of the running server (a new one after `restart`). */
  readonly pid: number;
  /** Stops this server by its pid (SIGTERM, SIGKILL if it hangs) and removes its store. */
  stop(): Promise<void>;
  /** SIGKILL by its pid, keeping its store (as a crashed machine's disk); `restart` brings it back. */
  kill(): Promise<void>;
  /**
   * Stops it by its pid, waits `downMs`, starts it again on the same port with the same store,
   * so streams, consumers and KV buckets survive as they do a real NATS restart.
   */
  restart(downMs?: number): Promise<void>;
}

export interface NatsOptions {
  /**
   * A configuration file (`-c`), such as config/nats/nats-server.conf: it must turn JetStream on
   * with `store_dir: $NATS_STORE_DIR`, which this sets to the server's own folder.
   */
  readonly config?: string;
  /** A configuration's text, written into the server's folder and used as `config`. */
  readonly configText?: string;
  /** Files written beside `configText` (files it includes), by name. */
  readonly files?: Readonly<Record<string, string>>;
  /** The client port (a free one if not given). */
  readonly port?: number;
  /** The server's environment on top of this process's (the config's `$VARIABLES`: passwords). */
  readonly env?: Record<string, string>;
}

/**
 * nats-server with JetStream, on a free port, with its own store; no monitoring port (none is
 * asked for). Without a config it lets anyone in, as a development server does.
 */
export async function startNats(options: NatsOptions = {}): Promise<TestNats> {
  const folder = mkdtempSync(path.join(tmpdir(), 'test-nats-'));
  const logFile = path.join(folder, 'nats-server.log');
  const port = options.port ?? (await freePort());
  const store = path.join(folder, 'jetstream');
  let config = options.config;
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(path.join(folder, name), text);
  if (options.configText !== undefined) writeFileSync((config = path.join(folder, 'server.conf')), options.configText);
  const args = config ? ['-c', config, '-a', HOST, '-p', String(port), '-l', logFile] : ['-a', HOST, '-p', String(port), '-js', '-sd', store, '-l', logFile];
  const env = config ? { ...options.env, NATS_STORE_DIR: store } : options.env;
  let child!: ChildProcess;
  const launch = async () => {
    child = startChild(NATS_SERVER, args, logFile, undefined, undefined, env);
    // The server recovers its JetStream store before it starts accepting clients.
    await waitUntil(child, 'nats-server', logFile, () => tcpConnects(port));
  };
  const stop = async () => {
    await stopChild(child, 'SIGTERM');
    rmSync(folder, { recursive: true, force: true });
  };
  try {
    await launch();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `nats://${HOST}:${port}`,
    port,
    logFile,
    get pid() {
      return child.pid!;
    },
    stop,
    kill: () => stopChild(child, 'SIGKILL'),
    restart: async (downMs = 0) => {
      await stopChild(child, 'SIGTERM');
      await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
  };
}

// ---- a TCP proxy that can cut the network -------------------------------------------------------

/**
 * How the target becomes unreachable: 'refuse' as a server that is down (open connections reset,
 * new ones closed at once); 'blackhole' as a network partition (connections stay open, nothing
 * gets through either way, new ones hang), which only timeouts detect.
 */
export type CutMode = 'refuse' | 'blackhole';

interface Link {
  readonly client: net.Socket;
  readonly upstream: net.Socket | null;
}

/**
 * Forwards a local port to the host and port of `targetUrl`, until told to cut. `url` is that
 * URL with the proxy's port, so a client given it goes through the proxy.
 */
export class TcpProxy {
  private readonly links = new Set<Link>();
  private mode: 'open' | CutMode = 'open';

  private constructor(private readonly server: net.Server, private readonly target: URL) {
    server.on('connection', (client) => this.accept(client));
  }

  /** `targetUrl`: any URL with a host and port (`postgresql://...`, `nats://...`, `tcp://host:port`). */
  static async start(targetUrl: string): Promise<TcpProxy> {
    const target = new URL(targetUrl);
    if (!target.port) throw new Error(`${targetUrl} names no port`);
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, HOST, () => resolve());
    });
    return new TcpProxy(server, target);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get url(): string {
    const url = new URL(this.target.toString());
    url.hostname = HOST;
    url.port = String(this.port);
    return url.toString();
  }

  cut(mode: CutMode): void {
    this.mode = mode;
    for (const link of this.links) {
      if (mode === 'refuse') this.drop(link);
      else this.hold(link);
    }
  }

  /** New connections are forwarded again; those held by a blackhole are reset, so clients reconnect cleanly. */
  restore(): void {
    this.mode = 'open';
    for (const link of this.links) this.drop(link);
  }

  async close(): Promise<void> {
    for (const link of this.links) this.drop(link);
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined); // a reset is what this proxy is for, not a failure
    // A reset rather than a polite close: the client fails at once, as against a port nobody listens on.
    if (this.mode === 'refuse') return void client.resetAndDestroy();
    if (this.mode === 'blackhole') return void this.track({ client, upstream: null });
    const upstream = net.connect(Number(this.target.port), this.target.hostname);
    upstream.on('error', () => undefined);
    const link = this.track({ client, upstream });
    // Behind a blackhole the client must not learn that the server went away.
    upstream.once('close', () => {
      if (this.mode === 'open') this.drop(link);
    });
    client.pipe(upstream).pipe(client);
  }

  private track(link: Link): Link {
    this.links.add(link);
    link.client.once('close', () => this.drop(link));
    return link;
  }

  /** Nothing forwarded either way, the sockets left open. */
  private hold(link: Link): void {
    if (!link.upstream) return;
    link.client.unpipe(link.upstream);
    link.upstream.unpipe(link.client);
    link.client.pause();
    link.upstream.pause();
  }

  private drop(link: Link): void {
    if (!this.links.delete(link)) return;
    link.client.resetAndDestroy();
    link.upstream?.resetAndDestroy();
  }
}
