import { createGatewayApp } from './app';
import { DEV_JWT_SECRET, loadGatewayConfig } from './config';

const config = loadGatewayConfig();
if (config.jwtSecret === DEV_JWT_SECRET) process.stderr.write('gateway: JWT_SECRET is not set; using the development secret\n');
createGatewayApp(config).catch((error) => {
  process.stderr.write(`gateway failed to start: ${(error as Error)?.stack ?? error}\n`);
  process.exit(1);
});
