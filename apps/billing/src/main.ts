import { createBillingApp } from './app';
import { loadConfig } from './config';

createBillingApp(loadConfig()).catch((error) => {
  process.stderr.write(`billing engine failed to start: ${(error as Error)?.stack ?? error}\n`);
  process.exit(1);
});
