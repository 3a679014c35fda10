import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { NatsJsonTransport } from '@billing/messaging';
import { connect, Msg } from 'nats';

/**
 * The echo of bench/src/echo-server.ts served the engine's way: a `@MessagePattern` controller
 * behind NatsJsonTransport in a Nest application (the same reply), so the bench can set what
 * NestJS's request pipeline costs beside a raw subscription.
 */
const REPLY = { ok: true };

@Controller()
class EchoController {
  @MessagePattern('echo')
  echo(@Payload() _msg: Msg): object {
    return REPLY;
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

async function main(): Promise<void> {
  const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'bench-transport-echo' });
  const app = await NestFactory.create(EchoModule, { logger: false });
  const transport = new NatsJsonTransport(nc, { echo: { subject: `${process.env.SUBJECT_PREFIX}.wallet.>` } }, () => ({ ok: false }));
  app.connectMicroservice({ strategy: transport });
  await app.init();
  await app.startAllMicroservices();
  process.on('SIGTERM', () => void app.close().then(() => nc.drain()).then(() => process.exit(0)));
  process.send?.('ready');
}

void main();
