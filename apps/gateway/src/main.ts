import { refuseDevelopmentDefaults } from '@billing/observability';
import { createGatewayApp } from './app';
import { loadGatewayConfig } from './config';
import { GATEWAY_SECRETS } from './gateway.secrets';

refuseDevelopmentDefaults('gateway', GATEWAY_SECRETS);
createGatewayApp(loadGatewayConfig()).catch((error) => {
  process.stderr.write(`gateway failed to start: ${(error as Error)?.stack ?? error}\n`);
  process.exit(1);
});
