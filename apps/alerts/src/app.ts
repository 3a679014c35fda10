import 'reflect-metadata';
import { INestApplication, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NatsJsonTransport } from '@billing/messaging';
import { processLogger } from '@billing/observability';
import { AlertsConfig } from './alerts.config';
import { AlertsModule, AlertsOverrides } from './alerts.module';

/** Builds and starts the alert service: migrations applied, stream and consumer ensured, webhook commands answered. */
export async function createAlertsApp(
  config: AlertsConfig,
  logger: LoggerService | false | undefined = processLogger('alerts'),
  overrides: AlertsOverrides = {},
): Promise<INestApplication> {
  logger ??= processLogger('alerts');
  const app = await NestFactory.create(AlertsModule.forRoot(config, overrides), { logger, abortOnError: false });
  app.enableShutdownHooks();
  // The webhook settings: a @MessagePattern controller on NATS (its route opened by AlertsModule).
  app.connectMicroservice({ strategy: app.get(NatsJsonTransport) });
  try {
    // HTTP only for operations: /health and /metrics. Webhooks are configured over NATS.
    await app.listen(config.httpPort, '0.0.0.0');
    await app.startAllMicroservices();
  } catch (error) {
    // A refusal at start (a secret key missing, ...) must not leave connections open behind it.
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}
