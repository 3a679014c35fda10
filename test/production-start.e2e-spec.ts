import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import { issueToken } from '../apps/gateway/src/auth/token';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER } from '../apps/gateway/src/config';
import { DEV_JWT_SECRET } from '../apps/gateway/src/gateway.secrets';
import { DEV_OPERATOR_JWT_SECRET } from '../apps/gateway/src/operator/operator.config';
import { deleteStream, isolatedNames, NATS_URL, ownDatabase, WalletClient } from './support/engine';
import { buildEngine, ENGINE_BUILD_DIR } from './support/engine-process';
import { eventually } from './support/lifecycle';
import { freePort } from './support/servers';

const ROOT = path.join(__dirname, '..');
const REGISTER = path.join(ENGINE_BUILD_DIR, 'register-paths.js');
const MAIN = { billing: 'apps/billing/src/main.js', gateway: 'apps/gateway/src/main.js', alerts: 'apps/alerts/src/main.js', simulator: 'apps/simulator/src/main.js' };
/**
 * `scripts/start.js` as the container runs it, next to a `dist/` that is the test's own build
 * (not the repository's `dist/`, which other commands build and run at the same time).
 */
const START_DIR = path.join(ROOT, 'node_modules', '.cache', 'production-start');
const START = path.join(START_DIR, 'scripts', 'start.js');

/** Every variable each process refuses to start without in production (README, "Production checklist"). */
const ENGINE_NEEDS = ['NATS_PASSWORD_BILLING', 'DATABASE_URL'];
const GATEWAY_NEEDS = ['NATS_PASSWORD_GATEWAY', 'DATABASE_URL', 'JWT_SECRET', 'OPERATOR_JWT_SECRET', 'NATS_PASSWORD_OPERATOR', 'STRIPE_WEBHOOK_SECRET', 'VNPAY_TMN_CODE', 'VNPAY_HASH_SECRET', 'VNPAY_PAY_URL', 'VNPAY_RETURN_URL', 'PAYPAL_WEBHOOK_ID', 'STRIPE_SECRET_KEY', 'PAYPAL_CLIENT_ID', 'PAYPAL_CLIENT_SECRET', 'PAYPAL_RETURN_URL', 'VNPAY_API_URL'];
const ALERTS_NEEDS = ['NATS_PASSWORD_ALERTS', 'DATABASE_URL', 'ALERTS_SECRET_KEY'];

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A process of this build with NODE_ENV=production and only the environment given (and PATH). */
function launch(script: string, env: Record<string, string>, args: string[] = ['-r', REGISTER]): { child: ChildProcess; output: () => Run; exited: Promise<Run> } {
  const child = spawn(process.execPath, [...args, script], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const output = () => ({ code: child.exitCode, stdout, stderr });
  const exited = new Promise<Run>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return { child, output, exited };
}

/** Runs to its end; a process still running after `timeoutMs` is killed and the test fails. */
async function runToExit(script: string, env: Record<string, string>, args?: string[], timeoutMs = 30_000): Promise<Run> {
  const { child, exited } = launch(script, env, args);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const run = await exited;
  clearTimeout(timer);
  if (run.code === null) throw new Error(`${script} still ran after ${timeoutMs} ms:\n${run.stderr}`);
  return run;
}

/** The one refusal line; fails unless there is exactly one. */
function refusal(run: Run): string {
  const lines = run.stderr.split('\n').filter((l) => /refuses to start/.test(l));
  expect(lines).toHaveLength(1);
  return lines[0];
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await closed;
  clearTimeout(timer);
}

describe('production refuses development defaults', () => {
  const secretsDir = mkdtempSync(path.join(tmpdir(), 'billing-secrets-'));
  const started: ChildProcess[] = [];
  /** Every guarded setting, each in a file of its own as Docker or Kubernetes mount them: `<NAME>_FILE`. */
  const files: Record<string, string> = {};
  const jwtSecret = randomBytes(32).toString('hex');

  function secretFile(name: string, value: string): void {
    const file = path.join(secretsDir, name.toLowerCase());
    writeFileSync(file, `${value}\n`, { mode: 0o600 });
    files[`${name}_FILE`] = file;
  }

  /** The NATS password of the test run's server (global-setup), or any if it lets anyone in. */
  function natsPassword(variable: string): string {
    return process.env[variable] ?? `p${randomBytes(12).toString('hex')}`;
  }

  let database: Awaited<ReturnType<typeof ownDatabase>> | undefined;

  beforeAll(async () => {
    await buildEngine();
    // start.js and the scripts it loads, in a folder whose dist/ is the build above.
    mkdirSync(path.join(START_DIR, 'scripts'), { recursive: true });
    for (const f of ['start.js', 'register-paths.js', 'engine-node-flags.js']) copyFileSync(path.join(ROOT, 'scripts', f), path.join(START_DIR, 'scripts', f));
    copyFileSync(path.join(ROOT, 'tsconfig.json'), path.join(START_DIR, 'tsconfig.json'));
    if (!existsSync(path.join(START_DIR, 'dist'))) symlinkSync(ENGINE_BUILD_DIR, path.join(START_DIR, 'dist'), 'dir');

    // A database of its own: the alert service in production refuses rows other tests sealed with the development key.
    database = await ownDatabase('prodstart');
    secretFile('DATABASE_URL', database.url);
    for (const variable of ['NATS_PASSWORD_BILLING', 'NATS_PASSWORD_GATEWAY', 'NATS_PASSWORD_ALERTS', 'NATS_PASSWORD_OPERATOR']) secretFile(variable, natsPassword(variable));
    secretFile('JWT_SECRET', jwtSecret);
    secretFile('OPERATOR_JWT_SECRET', randomBytes(32).toString('hex'));
    secretFile('STRIPE_WEBHOOK_SECRET', `whsec_${randomBytes(16).toString('hex')}`);
    secretFile('VNPAY_TMN_CODE', 'E2ETMN01');
    secretFile('VNPAY_HASH_SECRET', randomBytes(16).toString('hex').toUpperCase());
    secretFile('VNPAY_PAY_URL', 'https://pay.vnpay.vn/vpcpay.html');
    secretFile('VNPAY_RETURN_URL', 'https://portal.example.com/billing/topup');
    secretFile('PAYPAL_WEBHOOK_ID', `WH-${randomBytes(8).toString('hex').toUpperCase()}`);
    secretFile('STRIPE_SECRET_KEY', `sk_live_${randomBytes(24).toString('hex')}`);
    secretFile('PAYPAL_CLIENT_ID', `A${randomBytes(20).toString('hex')}`);
    secretFile('PAYPAL_CLIENT_SECRET', `E${randomBytes(20).toString('hex')}`);
    secretFile('PAYPAL_RETURN_URL', 'https://portal.example.com/payments/paypal/return');
    secretFile('VNPAY_API_URL', 'https://merchant.vnpay.vn/merchant_webapi/api/transaction');
    secretFile('ALERTS_SECRET_KEY', randomBytes(32).toString('hex'));
  }, 300_000);

  afterAll(async () => {
    await Promise.all(started.map(stop));
    await database?.drop();
    rmSync(secretsDir, { recursive: true, force: true });
  });

  describe('with secrets missing', () => {
    it.each([
      ['billing engine', MAIN.billing, ENGINE_NEEDS],
      ['gateway', MAIN.gateway, GATEWAY_NEEDS],
      ['alert service', MAIN.alerts, ALERTS_NEEDS],
    ])('the %s exits 78 with one message naming every one', async (name, main, needs) => {
      const run = await runToExit(path.join(ENGINE_BUILD_DIR, main), { NATS_URL });
      expect(run.code).toBe(78);
      const line = refusal(run);
      expect(line.startsWith(`${name} refuses to start with NODE_ENV=production: `)).toBe(true);
      // The gateway's operator API connects as the NATS user `operator`: its creds file has a variable of its own.
      const orElse: Record<string, string> = { NATS_PASSWORD_OPERATOR: ' (or OPERATOR_NATS_CREDS)', ALERTS_SECRET_KEY: ' (or ALERTS_SECRET_KEYS)' };
      for (const variable of needs) expect(line).toContain(`${variable}${orElse[variable] ?? (variable.startsWith('NATS_PASSWORD_') ? ' (or NATS_CREDS)' : '')} is missing`);
      expect(line).toContain('<NAME>_FILE');
    });

    it('npm start (the container) exits 78 with one message for its three processes, and starts none of them', async () => {
      const run = await runToExit(START, { NATS_URL }, []);
      expect(run.code).toBe(78);
      const line = refusal(run);
      for (const variable of new Set([...ENGINE_NEEDS, ...GATEWAY_NEEDS, ...ALERTS_NEEDS])) expect(line).toContain(variable);
      expect(run.stderr).not.toMatch(/exited|failed to start/);
      expect(run.stdout).toBe('');
    });

    it('the demo does not run at all', async () => {
      const run = await runToExit(path.join(ENGINE_BUILD_DIR, MAIN.simulator), { NATS_URL });
      expect(run.code).toBe(78);
      expect(run.stderr).toMatch(/the demo does not run with NODE_ENV=production/);
      expect(run.stdout).toBe('');
    });
  });

  it('the gateway names each development default, placeholder, weak secret and unreadable file at once, and nothing that is set properly', async () => {
    const env: Record<string, string> = {
      ...files,
      NATS_URL,
      // The development defaults, given explicitly.
      JWT_SECRET: DEV_JWT_SECRET,
      OPERATOR_JWT_SECRET: DEV_OPERATOR_JWT_SECRET,
      STRIPE_WEBHOOK_SECRET: 'whsec_dev_only_change_me',
      PAYPAL_WEBHOOK_ID: 'WH-DEV-ONLY',
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/test',
      // A placeholder from an example file.
      NATS_PASSWORD_GATEWAY: 'CHANGE_ME',
      // A file that is not there.
      VNPAY_HASH_SECRET_FILE: path.join(secretsDir, 'no-such-file'),
      // Payments made up instead of the providers' APIs.
      PAYMENT_PROVIDERS: 'offline',
    };
    for (const name of ['JWT_SECRET', 'OPERATOR_JWT_SECRET', 'STRIPE_WEBHOOK_SECRET', 'PAYPAL_WEBHOOK_ID', 'DATABASE_URL', 'NATS_PASSWORD_GATEWAY']) delete env[`${name}_FILE`];
    const run = await runToExit(path.join(ENGINE_BUILD_DIR, MAIN.gateway), env);
    expect(run.code).toBe(78);
    const problems = refusal(run).replace(/^gateway refuses to start with NODE_ENV=production: /, '').replace(/\. Set each .*$/, '').split('; ');
    expect(problems.sort()).toEqual(
      [
        'NATS_PASSWORD_GATEWAY is a development default',
        'DATABASE_URL is a development default',
        'JWT_SECRET is a development default',
        'OPERATOR_JWT_SECRET is a development default',
        'STRIPE_WEBHOOK_SECRET is a development default',
        `VNPAY_HASH_SECRET_FILE '${path.join(secretsDir, 'no-such-file')}' cannot be read: ENOENT`,
        'PAYPAL_WEBHOOK_ID is a development default',
        'PAYMENT_PROVIDERS=offline is refused in production',
      ].sort(),
    );

    // A JWT secret of development length (16) is too weak for HS256 in production (32).
    const weak = await runToExit(path.join(ENGINE_BUILD_DIR, MAIN.gateway), { ...files, NATS_URL, JWT_SECRET_FILE: '', JWT_SECRET: 'sixteen-chars-xx' });
    expect(weak.code).toBe(78);
    expect(refusal(weak)).toMatch(/: JWT_SECRET is shorter than 32 characters\. Set each/);
  });

  describe('with every secret from a file', () => {
    const names = isolatedNames();
    let client: WalletClient;

    beforeAll(async () => {
      client = await WalletClient.connect(names.subjectPrefix);
    });

    afterAll(async () => {
      await deleteStream(client.nc, names.eventsStream).catch(() => undefined);
      await deleteStream(client.nc, names.lifecycleStream).catch(() => undefined);
      await client.close();
    });

    /** The settings of a test deployment of its own (subjects, streams, ports), secrets excluded. */
    function deployment(ports: { billing: number; gateway: number; alerts: number }, nodeId: string): Record<string, string> {
      return {
        ...files,
        NATS_URL,
        SUBJECT_PREFIX: names.subjectPrefix,
        EVENTS_STREAM: names.eventsStream,
        LIFECYCLE_STREAM: names.lifecycleStream,
        LIFECYCLE_SUBJECT_PREFIX: names.lifecycleSubjectPrefix,
        LIFECYCLE_CONSUMER: names.lifecycleConsumer,
        OWNERS_BUCKET: names.ownersBucket,
        QUEUE_GROUP: `q-${names.subjectPrefix}`,
        NODE_ID: nodeId,
        BILLING_HTTP_PORT: String(ports.billing),
        GATEWAY_PORT: String(ports.gateway),
        ALERTS_HTTP_PORT: String(ports.alerts),
      };
    }

    const tokens = { secret: jwtSecret, issuer: DEFAULT_JWT_ISSUER, audience: DEFAULT_JWT_AUDIENCE, maxLifetimeSeconds: 3600 };

    /** Up as a user meets it: the engine answers, the gateway takes a token signed with the file's secret (and not the development one), the alert service is healthy. */
    async function expectRunning(ports: { gateway: number; alerts: number }, logs: () => string): Promise<void> {
      const within = 90_000;
      await eventually(() => client.request('prod-org', 'balance').catch(() => null), (r) => r?.ok === true, within).catch(() => {
        throw new Error(`the engine did not answer:\n${logs()}`);
      });
      const wallet = (secret: string) =>
        fetch(`http://127.0.0.1:${ports.gateway}/api/v1/wallet`, { headers: { authorization: `Bearer ${issueToken({ ...tokens, secret }, { org: 'prod-org' })}` } }).then((r) => r.status, () => 0);
      await eventually(() => wallet(jwtSecret), (s) => s === 200, within).catch(() => {
        throw new Error(`the gateway did not answer:\n${logs()}`);
      });
      expect(await wallet(DEV_JWT_SECRET)).toBe(401);
      await eventually(() => fetch(`http://127.0.0.1:${ports.alerts}/health`).then((r) => r.status, () => 0), (s) => s === 200, within).catch(() => {
        throw new Error(`the alert service did not answer:\n${logs()}`);
      });
    }

    it('the engine, the gateway and the alert service start, each on its own', async () => {
      const ports = { billing: await freePort(), gateway: await freePort(), alerts: await freePort() };
      const env = deployment(ports, `${names.subjectPrefix}-prod`);
      const runs = [launch(path.join(ENGINE_BUILD_DIR, MAIN.billing), env), launch(path.join(ENGINE_BUILD_DIR, MAIN.gateway), env), launch(path.join(ENGINE_BUILD_DIR, MAIN.alerts), env)];
      started.push(...runs.map((r) => r.child));
      const logs = () => runs.map((r) => r.output().stderr).join('\n');
      await expectRunning(ports, logs);
      // No warning about development defaults: there are none.
      expect(logs()).not.toMatch(/development defaults|refuses to start/);
      await Promise.all(runs.map((r) => stop(r.child)));
    }, 180_000);

    it('npm start (the container) starts its three processes, runs no demo and prints no token', async () => {
      const ports = { billing: await freePort(), gateway: await freePort(), alerts: await freePort() };
      const run = launch(START, deployment(ports, `${names.subjectPrefix}-start`), []);
      started.push(run.child);
      const logs = () => `${run.output().stdout}\n${run.output().stderr}`;
      await expectRunning(ports, logs);
      // Time for a demo or a token to show, were they coming (start.js prints them right after the engine's first answer).
      await new Promise((r) => setTimeout(r, 3000));
      const { stdout, stderr } = run.output();
      expect(stdout + stderr).not.toMatch(/#token=|eyJ[A-Za-z0-9_-]{10,}\.|dashboard of|\[demo\]|\[control plane\]|development defaults/);
      expect(run.child.exitCode).toBeNull();
      await stop(run.child);
      // start.js passes the stop on to its processes: their ports close.
      await eventually(() => fetch(`http://127.0.0.1:${ports.gateway}/health`).then(() => 'up', () => 'down'), (s) => s === 'down', 20_000);
    }, 180_000);
  });
});
