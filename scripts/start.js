// `npm start`: runs the billing engine (migrations applied on start), the gateway (HTTP API,
// socket.io, dashboard) and the alert service (webhooks), waits until the engine answers a `balance` request, then runs the live
// demo: a simulated control plane starting and stopping GPU resources (DEMO=off to skip it), and
// prints the dashboard's address. Ctrl-C stops everything. Unless TICK_INTERVAL_MS is set, the
// demo ticks every second so that balances move visibly (the engine's default is 60 s).
// With NODE_ENV=production (the container's): no demo, no token, and nothing starts while any
// process's secret is missing or a development default (one message naming every one).
const { spawn } = require('child_process');
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
const prefix = process.env.SUBJECT_PREFIX || 'billing';
const natsUrl = process.env.NATS_URL || 'nats://127.0.0.1:4222';
const children = [];

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
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  setTimeout(() => process.exit(code), 500).unref();
}
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

async function waitUntilReady() {
  // Asks as the gateway would (a `balance` request), with the gateway's NATS credentials if set.
  const { natsAuth, natsConnectionOptions } = require('../dist/libs/messaging/src/nats-auth');
  const nc = await connect({ servers: natsUrl.split(','), maxReconnectAttempts: -1, name: 'npm-start', ...natsConnectionOptions(natsAuth('gateway')) });
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

function announceAndRunDemo() {
  waitUntilReady().then(() => {
    const { issueToken } = require('../dist/apps/gateway/src/auth/token');
    const { loadGatewayConfig } = require('../dist/apps/gateway/src/config');
    const gateway = loadGatewayConfig();
    const org = demo ? `${process.env.SIM_ORG_PREFIX || 'demo-org'}-0` : 'org-1';
    const token = issueToken(gateway.tokens, { org, sub: 'npm-start' });
    console.log(`\nbilling engine ready: NATS ${natsUrl}, try\n  nats req ${prefix}.wallet.org-1.balance ''`);
    console.log(`dashboard of ${org}: http://localhost:${gateway.port}/#token=${token}`);
    console.log(`(the token is valid for ${gateway.tokens.maxLifetimeSeconds} s, JWT_MAX_LIFETIME_SECONDS)`);
    console.log(`HTTP API: http://localhost:${gateway.port}/docs (same token as Bearer)`);
    console.log(`operator API (/api/v1/operator, audited): a token of its own, npm run --silent operator-token -- <your name>\n`);
    if (demo) run('demo', 'dist/apps/simulator/src/main.js');
  }, (e) => {
    console.error(e.message);
    shutdown(1);
  });
}
