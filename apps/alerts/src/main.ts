import { createAlertsApp } from './app';
import { loadAlertsConfig } from './alerts.config';

createAlertsApp(loadAlertsConfig()).catch((error) => {
  process.stderr.write(`alert service failed to start: ${(error as Error)?.stack ?? error}\n`);
  process.exit(1);
});
