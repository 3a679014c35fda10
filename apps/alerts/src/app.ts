import 'reflect-metadata';
import { INestApplicationContext, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { JsonLogger } from '@billing/observability';
import { AlertsConfig } from './alerts.config';
import { AlertsModule } from './alerts.module';

/** Builds and starts the alert service: migrations applied, stream and consumer ensured, webhook commands answered. */
export async function createAlertsApp(config: AlertsConfig, logger: LoggerService | false | undefined = new JsonLogger('alerts')): Promise<INestApplicationContext> {
  logger ??= new JsonLogger('alerts');
  const app = await NestFactory.createApplicationContext(AlertsModule.forRoot(config), { logger, abortOnError: false });
  app.enableShutdownHooks();
  await app.init();
  return app;
}
