import 'reflect-metadata';
import { INestApplicationContext, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BillingModule } from './billing.module';
import { BillingConfig } from './config';
import { JsonLogger } from '@billing/observability';

/** Builds and starts the engine: migrations applied, stream ensured, wallet subjects answered. */
export async function createBillingApp(config: BillingConfig, logger: LoggerService | false | undefined = new JsonLogger('billing')): Promise<INestApplicationContext> {
  logger ??= new JsonLogger('billing');
  const app = await NestFactory.createApplicationContext(BillingModule.forRoot(config), { logger, abortOnError: false });
  app.enableShutdownHooks();
  await app.init();
  return app;
}
