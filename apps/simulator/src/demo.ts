import { connectNats, natsAuth } from '@billing/messaging';
import { isProduction } from '@billing/observability';
import { within } from './demo-requests';
import { DemoScenario } from './demo.scenario';

/** How long closing the demo's connections may take (a NATS that went away first does not hold it up). */
const CLOSE_BUDGET_MS = 2000;
import { readDemoSettings } from './demo.settings';

export interface DemoHandle {
  readonly scenario: DemoScenario;
  /** Ends the cycles, deletes what the demo runs and closes its connections. */
  stop(): Promise<void>;
}

/**
 * Starts the demo against the engine `env` names: the control plane's lifecycle messages and
 * questions as the NATS user control-plane, credits, voucher codes and thresholds as operator.
 * `write` gets the console's text (summary lines).
 */
export async function runDemo(env: NodeJS.ProcessEnv, write: (text: string) => void): Promise<DemoHandle> {
  // The demo credits organizations with money nobody paid: never against a real deployment.
  if (isProduction(env)) throw new Error('the demo does not run with NODE_ENV=production: it credits organizations with money nobody paid');
  const settings = readDemoSettings(env);
  // The control plane never credits (NATS refuses it): the demo's operator tops the organizations up and sets their alerts.
  const nc = await connectNats(settings.natsUrl, 'control-plane-simulator', natsAuth('control-plane', env));
  const operator = await connectNats(settings.natsUrl, 'demo-operator', natsAuth('operator', env)).catch(async (error) => {
    await nc.close();
    throw error;
  });
  const scenario = new DemoScenario(nc, operator, settings, write);
  const close = () => within(Promise.all([nc.drain(), operator.drain()]).catch(() => undefined), CLOSE_BUDGET_MS).then(() => undefined);
  try {
    await scenario.start();
  } catch (error) {
    await scenario.stop();
    await close();
    throw error;
  }
  return {
    scenario,
    stop: async () => {
      await scenario.stop();
      await close();
    },
  };
}
