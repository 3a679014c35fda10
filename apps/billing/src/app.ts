import 'reflect-metadata';
import { INestApplication, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BillingModule } from './billing.module';
import { BillingConfig } from './config';
import { NatsJsonTransport } from '@billing/messaging';
import { processLogger } from '@billing/observability';

/** Builds and starts the engine: migrations applied, stream ensured, wallet subjects answered. */
export async function createBillingApp(config: BillingConfig, logger: LoggerService | false | undefined = processLogger('billing')): Promise<INestApplication> {
  logger ??= processLogger('billing');
  const app = await NestFactory.create(BillingModule.forRoot(config), { logger, abortOnError: false });
  app.enableShutdownHooks();
  // The wallet, admin and peer requests: @MessagePattern controllers on NATS (routes opened by BillingModule in order).
  app.connectMicroservice({ strategy: app.get(NatsJsonTransport) });
  // HTTP only for operations: /health and /metrics. The wallet itself is on NATS.
  await app.listen(config.httpPort, '0.0.0.0');
  await app.startAllMicroservices();
  return app;
}
