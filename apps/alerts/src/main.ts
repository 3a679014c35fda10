import { refuseDevelopmentDefaults } from '@billing/observability';
import { createAlertsApp } from './app';
import { AlertsConfig, loadAlertsConfig } from './alerts.config';
import { ALERTS_SECRETS } from './alerts.secrets';

refuseDevelopmentDefaults('alert service', ALERTS_SECRETS);
let config: AlertsConfig;
try {
  config = loadAlertsConfig();
} catch (error) {
  // A setting that does not fit (ALERTS_SECRET_KEY missing in production, ...): its message, not a stack; 78 is EX_CONFIG.
  process.stderr.write(`alert service refuses to start: ${(error as Error)?.message ?? error}\n`);
  process.exit(78);
}
createAlertsApp(config).catch((error) => {
  process.stderr.write(`alert service failed to start: ${(error as Error)?.stack ?? error}\n`);
  process.exit(1);
});
