// `npm start`: runs the billing engine (migrations applied on start), the gateway (HTTP API,
// socket.io, dashboard) and the alert service (webhooks), waits until the engine answers a `balance` request, then runs the live
// demo: a simulated control plane starting and stopping GPU resources (DEMO=off to skip it), and
// prints the dashboard's address. Ctrl-C stops everything. Unless TICK_INTERVAL_MS is set, the
// demo ticks every second so that balances move visibly (the engine's default is 60 s).
const { spawn } = require('child_process');
const path = require('path');
const { connect, StringCodec } = require('nats');
require('./register-paths');

const root = path.join(__dirname, '..');
if (process.env.DEMO !== 'off' && !process.env.TICK_INTERVAL_MS) process.env.TICK_INTERVAL_MS = '1000';
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
waitUntilReady().then(
  () => {
    const { issueToken } = require('../dist/apps/gateway/src/auth/token');
    const { loadGatewayConfig } = require('../dist/apps/gateway/src/config');
    const gateway = loadGatewayConfig();
    const org = process.env.DEMO === 'off' ? 'org-1' : `${process.env.SIM_ORG_PREFIX || 'demo-org'}-0`;
    const token = issueToken(gateway.jwtSecret, { org, sub: 'npm-start' }, 12 * 3600);
    console.log(`\nbilling engine ready: NATS ${natsUrl}, try\n  nats req ${prefix}.wallet.org-1.balance ''`);
    console.log(`dashboard of ${org}: http://localhost:${gateway.port}/#token=${token}`);
    console.log(`HTTP API: http://localhost:${gateway.port}/docs (same token as Bearer)\n`);
    if (process.env.DEMO !== 'off') run('demo', 'dist/apps/simulator/src/main.js');
  },
  (e) => {
    console.error(e.message);
    shutdown(1);
  },
);
