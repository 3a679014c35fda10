import { StringCodec } from 'nats';
import { connectNats, DEFAULT_NATS_URL, natsAuth } from '@billing/messaging';
import { EXIT_CONFIG, isProduction } from '@billing/observability';
import { ControlPlaneSimulator } from './control-plane.simulator';

/**
 * The live demo: a simulated control plane runs GPU resources for a few organizations; the
 * engine charges them as they run and every balance change is printed as the engine publishes it.
 */
const env = process.env;
const sc = StringCodec();

async function main(): Promise<void> {
  // The demo tops organizations up with money nobody paid: never against a real deployment.
  if (isProduction(env)) {
    process.stderr.write('the demo does not run with NODE_ENV=production: it credits organizations with money nobody paid\n');
    process.exit(EXIT_CONFIG);
  }
  const natsUrl = env.NATS_URL || DEFAULT_NATS_URL;
  // The control plane never credits (NATS refuses it): the demo's operator tops the organizations up and sets their alerts.
  const nc = await connectNats(natsUrl, 'control-plane-simulator', natsAuth('control-plane', env));
  const operator = await connectNats(natsUrl, 'demo-operator', natsAuth('operator', env));
  const walletPrefix = env.SUBJECT_PREFIX ?? 'billing';
  const sim = new ControlPlaneSimulator(nc, {
    walletPrefix,
    lifecyclePrefix: env.LIFECYCLE_SUBJECT_PREFIX ?? 'gpu.lifecycle',
    orgs: Number(env.SIM_ORGS ?? 3),
    resourcesPerOrg: Number(env.SIM_RESOURCES ?? 3),
    currency: (env.SIM_CURRENCY as 'USD' | 'VND' | 'JPY') ?? 'USD',
    topup: env.SIM_TOPUP ?? '5.00',
    skus: ['h100-1x', 'a100-1x', 'l40s-1x'],
    services: ['gpu-container', 'ai-notebook', 'vm'],
    orgPrefix: env.SIM_ORG_PREFIX ?? 'demo-org',
  }, operator);
  await sim.fund();
  for (const orgId of sim.orgIds()) {
    await sim.request(orgId, 'alerts.set', { lowBalance: ['4', '1'] }, operator);
  }
  nc.subscribe(`${walletPrefix}.events.*.*`, {
    callback: (_e, msg) => {
      const e = JSON.parse(sc.decode(msg.data));
      if (!sim.orgIds().includes(e.orgId)) return;
      if (e.type === 'balance') {
        process.stdout.write(`[demo] ${e.orgId} total ${e.total} ${e.currency} (exact ${e.exact.total}) burning ${e.burnRatePerHour}/h, runway ${e.runwaySeconds ?? '-'} s\n`);
      } else {
        process.stdout.write(`[demo] ${e.orgId} ${e.type} ${JSON.stringify(e)}\n`);
      }
    },
  });
  const stepMs = Number(env.SIM_STEP_MS ?? 3000);
  const timer = setInterval(() => {
    sim.step().then((what) => process.stdout.write(`[control plane] ${what}\n`), (e) => process.stdout.write(`[control plane] ${String(e)}\n`));
  }, stepMs);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    await Promise.all([nc.drain(), operator.drain()]);
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error) => {
  process.stderr.write(`simulator failed: ${error}\n`);
  process.exit(1);
});
