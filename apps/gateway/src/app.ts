import 'reflect-metadata';
import path from 'path';
import { existsSync } from 'fs';
import { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import { processLogger } from '@billing/observability';
import { GatewayConfig } from './config';
import { GatewayModule } from './gateway.module';
import { GatewayIoAdapter, httpCors, securityHeaders } from './edge/security-headers';
import { bodyParserErrors } from './edge/http-errors';

/** The dashboard page, from the sources or next to the compiled code. */
function publicDir(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'apps', 'gateway', 'public');
}

export async function createGatewayApp(config: GatewayConfig, logger: LoggerService | false | undefined = processLogger('gateway')): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(GatewayModule.forRoot(config), { logger: logger ?? processLogger('gateway'), abortOnError: false, rawBody: true });
  app.enableShutdownHooks();
  // The client's address (rate limits, VNPAY) comes from X-Forwarded-For only through TRUSTED_PROXIES.
  app.set('trust proxy', (address: string) => config.edge.trustedProxies.trusts(address));
  app.use(helmet(securityHeaders(config.dashboard.stripe)));
  if (config.edge.corsOrigins.length > 0) app.enableCors(httpCors(config.edge.corsOrigins));
  app.useWebSocketAdapter(new GatewayIoAdapter(app, config.edge.corsOrigins));
  app.useStaticAssets(publicDir(), { index: 'index.html' });
  // Nest's own body parsers (JSON, then URL-encoded, its options, the raw body kept for the
  // webhooks' signatures), registered here so that their refusals get the API's error body next.
  app.useBodyParser('json');
  app.useBodyParser('urlencoded', { extended: true });
  app.use(bodyParserErrors);
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('GPU billing engine')
      .setDescription('Wallet, ledger, usage and resources of the organization named by the bearer token (HS256 JWT: `iss`, `aud`, `iat`, `exp` required, lifetime at most JWT_MAX_LIFETIME_SECONDS; claim `org`). Operator routes (`/api/v1/operator`: credit, voucher codes, plans, reversals, the audit) take an operator token instead: signed with OPERATOR_JWT_SECRET, audience OPERATOR_JWT_AUDIENCE, `sub` naming the operator; every operator action is audited.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
  await app.listen(config.port, '0.0.0.0');
  return app;
}
