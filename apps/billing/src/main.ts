import { refuseDevelopmentDefaults } from '@billing/observability';
import { createBillingApp } from './app';
import { BILLING_SECRETS } from './billing.secrets';
import { loadConfig } from './config';

refuseDevelopmentDefaults('billing engine', BILLING_SECRETS);
createBillingApp(loadConfig()).catch((error) => {
  process.stderr.write(`billing engine failed to start: ${(error as Error)?.stack ?? error}\n`);
  process.exit(1);
});
