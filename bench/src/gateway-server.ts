import { AddressInfo } from 'net';
import { createGatewayApp } from '../../apps/gateway/src/app';
import { loadGatewayConfig } from '../../apps/gateway/src/config';

/** The real gateway as the benchmark's child process; tells the parent its port when it is up. */
createGatewayApp(loadGatewayConfig(), false).then(
  (app) => {
    process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
    process.send?.({ type: 'ready', port: (app.getHttpServer().address() as AddressInfo).port });
  },
  (error) => {
    process.stderr.write(`gateway failed: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
