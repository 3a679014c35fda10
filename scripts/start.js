// `npm start`: runs the billing engine (migrations applied on start), the gateway (HTTP API,
// socket.io, dashboard) and the alert service (webhooks), waits until the engine answers a `balance` request
// and the gateway its port, prints the dashboard's address, then runs the live demo: a simulated
// control plane starting and stopping GPU resources (DEMO=off to skip it). Ctrl-C stops everything. Unless TICK_INTERVAL_MS is set, the
// demo ticks every second so that balances move visibly (the engine's default is 60 s), and unless
// HOLD_MINUTES is set, a running GPU holds one minute of its cost (below).
// With NODE_ENV=production (the container's): no demo, no token, and nothing starts while any
// process's secret is missing or a development default (one message naming every one).
// In development the banner (the dashboard's address with a token, the API, how to get other
// tokens) is also written to .run/dashboard.txt, and its dashboard line printed again once the
// demo has printed its first lines, then every few minutes, each time with a fresh token.
// `npm start` runs scripts/preflight.js (NATS and PostgreSQL reachable?) and the build before this.
const { spawn } = require('child_process');
const { mkdirSync, renameSync, rmSync, writeFileSync } = require('fs');
const path = require('path');
const { connect, StringCodec } = require('nats');
require('./register-paths');

const root = path.join(__dirname, '..');
const { isProduction, refuseDevelopmentDefaults } = require('../dist/libs/observability/src/env');
const production = isProduction(process.env);
// The three processes' guarded settings checked together: one message (or one warning) for all.
refuseDevelopmentDefaults('npm start (billing engine, gateway, alert service)', [
  ...require('../dist/apps/billing/src/billing.secrets').BILLING_SECRETS,
  ...require('../dist/apps/gateway/src/gateway.secrets').GATEWAY_SECRETS,
  ...require('../dist/apps/alerts/src/alerts.secrets').ALERTS_SECRETS,
]);
process.env.DEV_DEFAULTS_WARNED = '1';
const demo = !production && process.env.DEMO !== 'off';
if (demo && !process.env.TICK_INTERVAL_MS) process.env.TICK_INTERVAL_MS = '1000';
// Holds of one minute (the engine's default is 60): an hour of each GPU held against the demo's
// 0.80 USD would let one start at most; with a minute all 17 start and the engine stops them
// within a minute, when nothing is available (apps/simulator/src/demo.settings.ts tells the numbers).
if (demo && !process.env.HOLD_MINUTES) process.env.HOLD_MINUTES = '1';
// One minute of runway before a start (the engine's default is 10): with the others' holds already
// taken, 10 minutes of an H100 would let about 4 of the 17 start, and only because their requests
// happen to arrive together.
if (demo && !process.env.MIN_RUNWAY_MINUTES) process.env.MIN_RUNWAY_MINUTES = '1';
const prefix = process.env.SUBJECT_PREFIX || 'billing';
const natsUrl = process.env.NATS_URL || 'nats://127.0.0.1:4222';
const children = [];
/** The banner, for whoever lost it in the demo's output (README, "Two commands"); it holds a token, so it is the user's only. */
const BANNER_FILE = path.join(root, '.run', 'dashboard.txt');
/** The dashboard line again, once the demo has printed its first lines, then every few minutes. */
const BANNER_AGAIN_AFTER_MS = 10_000;
const BANNER_REPEAT_MS = 5 * 60_000;
let bannerWritten = false;
const bannerTimers = [];

const engineFlags = require('./engine-node-flags');

function run(name, script, flags = []) {
  const child = spawn(process.execPath, [...flags, '-r', path.join(__dirname, 'register-paths.js'), path.join(root, script)], { stdio: 'inherit', env: process.env });
  child.on('exit', (code, signal) => {
    console.error(`${name} exited (${signal || code})`);
    shutdown(code || 1);
  });
  children.push(child);
  return child;
}

function shutdown(code) {
  // The first reason to stop is the exit code, also when the event loop empties before the timer.
  if (process.exitCode === undefined) process.exitCode = code;
  for (const t of bannerTimers) clearTimeout(t);
  if (bannerWritten) rmSync(BANNER_FILE, { force: true });
  bannerWritten = false;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  setTimeout(() => process.exit(process.exitCode), 500).unref();
}
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

async function waitUntilReady() {
  // Asks as the gateway would (a `balance` request), with the gateway's NATS credentials if set.
  const { natsAuth, natsConnectionOptions } = require('../dist/libs/messaging/src/nats-auth');
  const nc = await connect({ servers: natsUrl.split(','), maxReconnectAttempts: -1, name: 'npm-start', ...natsConnectionOptions(natsAuth('gateway')) }).catch((e) => {
    throw new Error(`npm start: NATS at ${natsUrl} (NATS_URL) could not be reached while the engine started: ${e.code ?? e.message}`);
  });
  const sc = StringCodec();
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      try {
        const reply = JSON.parse(sc.decode((await nc.request(`${prefix}.wallet.readiness-probe.balance`, sc.encode(''), { timeout: 1000 })).data));
        if (reply.ok) return;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`the engine did not answer a balance request within 60 s: ${e.message}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await nc.close();
  }
}

run('billing engine', 'dist/apps/billing/src/main.js', engineFlags);
run('gateway', 'dist/apps/gateway/src/main.js');
run('alerts', 'dist/apps/alerts/src/main.js');
// Production: the processes run and log on their own; tokens come from the deployment's identity provider.
if (!production) announceAndRunDemo();

/** Resolves once the gateway answers on its port, so that the dashboard link works when it is printed. */
async function waitForGateway(port) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`npm start: the gateway did not answer on port ${port} (GATEWAY_PORT) within 60 s: ${e.cause?.code ?? e.message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Is `command` an executable on the PATH (the `nats` CLI is not part of this project)? */
function onPath(command) {
  return (process.env.PATH || '').split(path.delimiter).some((dir) => {
    try {
      require('fs').accessSync(path.join(dir, command), require('fs').constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function announceAndRunDemo() {
  const { loadGatewayConfig } = require('../dist/apps/gateway/src/config');
  waitUntilReady().then(async () => {
    const gateway = loadGatewayConfig();
    await waitForGateway(gateway.port);
    const { issueToken } = require('../dist/apps/gateway/src/auth/token');
    // The demo's first organization (apps/simulator: SIM_ORG_PREFIX, default demo-org, numbered from 0).
    const org = demo ? `${process.env.SIM_ORG_PREFIX || 'demo-org'}-0` : 'org-1';
    const base = `http://localhost:${gateway.port}`;
    const dashboardLine = () => {
      const token = issueToken(gateway.tokens, { org, sub: 'npm-start' });
      const until = new Date(Date.now() + gateway.tokens.maxLifetimeSeconds * 1000).toISOString().slice(11, 16);
      return { token, line: `dashboard of ${org}: ${base}/#token=${token}`, until };
    };
    const first = dashboardLine();
    const ask = onPath('nats')
      ? `nats req ${process.env.NATS_PASSWORD_OPERATOR ? '--user operator --password "$NATS_PASSWORD_OPERATOR" ' : ''}${prefix}.wallet.${org}.balance ''`
      : `curl -s -H "Authorization: Bearer $(npm run --silent token -- --org ${org})" ${base}/api/v1/wallet`;
    const banner = [
      `billing engine ready (NATS ${natsUrl})`,
      first.line,
      `  the token is valid until ${first.until} UTC (JWT_MAX_LIFETIME_SECONDS, ${gateway.tokens.maxLifetimeSeconds} s)`,
      `HTTP API: ${base}/docs (the same token as a Bearer header); its balance: ${ask}`,
      `another organization's token and dashboard: npm run token -- --org <id> [--ttl <seconds>]`,
      `operator API (/api/v1/operator, audited): a token of its own, npm run --silent operator-token -- <your name>`,
      `this banner is in ${path.relative(process.cwd(), BANNER_FILE) || BANNER_FILE}${demo ? '; the dashboard line comes again in the demo\'s output' : ''}`,
    ];
    console.log(`\n${banner.join('\n')}\n`);
    writeBanner(banner);
    if (!demo) return;
    run('demo', 'dist/apps/simulator/src/main.js');
    const again = () => {
      const next = dashboardLine();
      banner[1] = next.line;
      banner[2] = `  the token is valid until ${next.until} UTC (JWT_MAX_LIFETIME_SECONDS, ${gateway.tokens.maxLifetimeSeconds} s)`;
      writeBanner(banner);
      console.log(`>> ${next.line} (valid until ${next.until} UTC; all links: ${path.relative(process.cwd(), BANNER_FILE)})`);
    };
    bannerTimers.push(setTimeout(again, BANNER_AGAIN_AFTER_MS), setInterval(again, BANNER_REPEAT_MS));
  }, (e) => {
    console.error(e.message);
    shutdown(1);
  });
}

/** The banner in .run/dashboard.txt (readable by its user only: it holds a token), replaced whole. */
function writeBanner(lines) {
  try {
    mkdirSync(path.dirname(BANNER_FILE), { recursive: true, mode: 0o700 });
    const tmp = `${BANNER_FILE}.${process.pid}`;
    writeFileSync(tmp, `${lines.join('\n')}\n(written ${new Date().toISOString()} by npm start, pid ${process.pid}; removed when it stops)\n`, { mode: 0o600 });
    renameSync(tmp, BANNER_FILE);
    bannerWritten = true;
  } catch (e) {
    console.error(`the banner could not be written to ${BANNER_FILE}: ${e.message}`);
  }
}
