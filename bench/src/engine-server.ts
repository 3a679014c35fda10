import { createBillingApp } from '../../apps/billing/src/app';
import { loadConfig } from '../../apps/billing/src/config';

/** The real engine, started as the benchmark's child process; tells the parent when it is up. */
createBillingApp(loadConfig(), false).then(
  (app) => {
    process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
    process.send?.('ready');
  },
  (error) => {
    process.stderr.write(`engine failed: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
