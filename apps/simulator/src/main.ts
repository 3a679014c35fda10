import { EXIT_CONFIG, isProduction } from '@billing/observability';
import { runDemo } from './demo';

/**
 * The live demo (`npm start` runs it once the engine is ready): a simulated control plane runs GPU
 * resources for a few organizations in cycles that go on for ever (see DemoScenario), and the
 * console gets a short summary every few seconds.
 */
const env = process.env;

async function main(): Promise<void> {
  // The demo tops organizations up with money nobody paid: never against a real deployment.
  if (isProduction(env)) {
    process.stderr.write('the demo does not run with NODE_ENV=production: it credits organizations with money nobody paid\n');
    process.exit(EXIT_CONFIG);
  }
  const demo = await runDemo(env, (text) => process.stdout.write(text));
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await demo.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error) => {
  process.stderr.write(`simulator failed: ${error}\n`);
  process.exit(1);
});
