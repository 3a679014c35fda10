import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'fs';
import path from 'path';
import { verifyToken } from '../apps/gateway/src/auth/token';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER } from '../apps/gateway/src/config';
import { NATS_URL, testDatabaseUrl } from './support/engine';
import { buildEngine, ENGINE_BUILD_DIR } from './support/engine-process';
import { runPasswords } from './support/nats-roles';
import { freePort } from './support/servers';

const ROOT = path.join(__dirname, '..');
const PREFLIGHT = path.join(ROOT, 'scripts', 'preflight.js');
/**
 * scripts/token.js next to a `dist/` that is the test's own build (not the repository's `dist/`,
 * which other commands build and run at the same time), as production-start.e2e-spec.ts does for start.js.
 */
const TOKEN_DIR = path.join(ROOT, 'node_modules', '.cache', 'first-run');
const TOKEN = path.join(TOKEN_DIR, 'scripts', 'token.js');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A script run to its end with only the environment given (and PATH), as a new user's shell would have it. */
function runScript(script: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** The preflight's message lines about `what` (NATS or PostgreSQL). */
function about(run: Run, what: RegExp): string[] {
  return run.stderr.split('\n').filter((l) => what.test(l));
}

describe('a first run that explains itself', () => {
  describe('npm start checks NATS and PostgreSQL before it builds', () => {
    it('runs the preflight first, before the build', () => {
      const { scripts } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
      expect(scripts.start).toMatch(/^node scripts\/preflight\.js && npm run --silent build && node scripts\/start\.js$/);
    });

    it('exits non-zero naming NATS and PostgreSQL, where each was looked for and the setting to change, without the password', async () => {
      const [natsPort, pgPort] = [await freePort(), await freePort()];
      const password = `pw${randomBytes(8).toString('hex')}`;
      const run = await runScript(PREFLIGHT, [], { NATS_URL: `nats://127.0.0.1:${natsPort}`, DATABASE_URL: `postgresql://billing:${password}@127.0.0.1:${pgPort}/billing` });
      expect(run.code).not.toBe(0);
      const nats = about(run, /NATS is not reachable/);
      expect(nats).toHaveLength(1);
      expect(nats[0]).toContain(`127.0.0.1:${natsPort}`);
      expect(nats[0]).toContain('connection refused');
      expect(nats[0]).toContain('NATS_URL');
      const pg = about(run, /PostgreSQL is not reachable/);
      expect(pg).toHaveLength(1);
      expect(pg[0]).toContain(`127.0.0.1:${pgPort}`);
      expect(pg[0]).toContain('DATABASE_URL');
      expect(run.stderr + run.stdout).not.toContain(password);
      expect(run.stderr).toMatch(/npm start stopped before building/);
    });

    it('names only what it could not reach', async () => {
      const run = await runScript(PREFLIGHT, [], { ...runPasswords(), NATS_URL, DATABASE_URL: `postgresql://postgres@127.0.0.1:${await freePort()}/test` });
      expect(run.code).not.toBe(0);
      expect(about(run, /PostgreSQL is not reachable/)).toHaveLength(1);
      expect(about(run, /NATS/)).toEqual([]);
    });

    it('tells a refused NATS password from an unreachable NATS, naming the variable', async () => {
      const run = await runScript(PREFLIGHT, [], { ...runPasswords(), NATS_PASSWORD_GATEWAY: 'pwrong0', NATS_URL, DATABASE_URL: testDatabaseUrl() });
      expect(run.code).not.toBe(0);
      const nats = about(run, /NATS/);
      expect(nats).toHaveLength(1);
      expect(nats[0]).toMatch(/refused the credentials of the gateway user \(NATS_PASSWORD_GATEWAY\)/);
      expect(nats[0]).not.toMatch(/not reachable|NATS_PASSWORD_BILLING/);
      expect(run.stderr).not.toContain('pwrong0');
    });

    it('names the NATS passwords to set when a NATS with users is given none', async () => {
      const run = await runScript(PREFLIGHT, [], { NATS_URL, DATABASE_URL: testDatabaseUrl() });
      expect(run.code).not.toBe(0);
      expect(about(run, /NATS/)).toHaveLength(1);
      expect(about(run, /NATS/)[0]).toMatch(/no credentials are set for billing, gateway, alerts, operator, control-plane\. Set NATS_PASSWORD_BILLING, NATS_PASSWORD_GATEWAY/);
    });

    it('tells a refused PostgreSQL login and a missing database from an unreachable server', async () => {
      const base = new URL(testDatabaseUrl());
      const noRole = new URL(base.href);
      noRole.username = `nobody_${randomBytes(4).toString('hex')}`;
      const refused = await runScript(PREFLIGHT, [], { ...runPasswords(), NATS_URL, DATABASE_URL: noRole.href });
      expect(refused.code).not.toBe(0);
      expect(about(refused, /PostgreSQL/)).toEqual([expect.stringMatching(new RegExp(`refused user ${noRole.username}: .*Set DATABASE_URL`))]);

      const noDatabase = new URL(base.href);
      noDatabase.pathname = `/no_such_database_${randomBytes(4).toString('hex')}`;
      const missing = await runScript(PREFLIGHT, [], { ...runPasswords(), NATS_URL, DATABASE_URL: noDatabase.href });
      expect(missing.code).not.toBe(0);
      expect(about(missing, /PostgreSQL/)).toEqual([expect.stringMatching(/has no database no_such_database_\w+\. Create it .*or set DATABASE_URL/)]);
    });

    it('passes, in one line, when both answer as the processes will connect', async () => {
      const run = await runScript(PREFLIGHT, [], { ...runPasswords(), NATS_URL, DATABASE_URL: testDatabaseUrl() });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout.trim().split('\n')).toHaveLength(1);
    });
  });

  describe('npm run token -- --org X', () => {
    const secret = randomBytes(32).toString('hex');
    const tokens = { secret, issuer: DEFAULT_JWT_ISSUER, audience: DEFAULT_JWT_AUDIENCE, maxLifetimeSeconds: 3600 };

    beforeAll(async () => {
      await buildEngine();
      mkdirSync(path.join(TOKEN_DIR, 'scripts'), { recursive: true });
      for (const f of ['token.js', 'register-paths.js']) copyFileSync(path.join(ROOT, 'scripts', f), path.join(TOKEN_DIR, 'scripts', f));
      copyFileSync(path.join(ROOT, 'tsconfig.json'), path.join(TOKEN_DIR, 'tsconfig.json'));
      if (!existsSync(path.join(TOKEN_DIR, 'dist'))) symlinkSync(ENGINE_BUILD_DIR, path.join(TOKEN_DIR, 'dist'), 'dir');
    }, 300_000);

    it('prints a token of that organization that the gateway accepts, and its dashboard address', async () => {
      const run = await runScript(TOKEN, ['--org', 'first-run-org', '--ttl', '120'], { JWT_SECRET: secret, GATEWAY_PORT: '3917' });
      expect(run.code).toBe(0);
      const token = run.stdout.trim();
      const principal = verifyToken(token, tokens);
      expect(principal.orgId).toBe('first-run-org');
      expect(Math.round((principal.expiresAtMs - Date.now()) / 1000)).toBeGreaterThan(100);
      expect(Math.round((principal.expiresAtMs - Date.now()) / 1000)).toBeLessThanOrEqual(120);
      expect(run.stderr).toContain(`http://localhost:3917/#token=${token}`);
      // Signed with the settings given, not the development default.
      expect(() => verifyToken(token, { ...tokens, secret: randomBytes(32).toString('hex') })).toThrow();
    });

    it('refuses a lifetime past JWT_MAX_LIFETIME_SECONDS, an id no organization can have, and NODE_ENV=production', async () => {
      expect((await runScript(TOKEN, ['--org', 'first-run-org', '--ttl', '3601'], { JWT_SECRET: secret })).code).toBe(64);
      expect((await runScript(TOKEN, ['--org', 'no spaces'], { JWT_SECRET: secret })).code).toBe(64);
      expect((await runScript(TOKEN, [], { JWT_SECRET: secret })).code).toBe(64);
      const production = await runScript(TOKEN, ['--org', 'first-run-org'], { JWT_SECRET: secret, NODE_ENV: 'production' });
      expect(production.code).toBe(78);
      expect(production.stdout).toBe('');
    });
  });
});
