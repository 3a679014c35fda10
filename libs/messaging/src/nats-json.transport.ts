import { Logger } from '@nestjs/common';
import { CustomTransportStrategy, MessageHandler, NatsContext, Server } from '@nestjs/microservices';
import { Msg, NatsConnection, Subscription } from 'nats';
import { isObservable, lastValueFrom } from 'rxjs';

/** Where a `@MessagePattern(<name>)` handler's requests come from. */
export interface NatsRoute {
  readonly subject: string;
  /** A queue group: each request goes to one process of the group. */
  readonly queue?: string;
}

/**
 * NestJS's way to serve NATS requests, over the process's one shared connection and with this
 * project's contract: a request's body is plain JSON, and so is its answer (no Nest envelope), so
 * any NATS client can call it (`nats req billing.wallet.acme.balance ''`).
 *
 * Handlers are `@MessagePattern(<route name>)` methods of controllers; a handler gets the NATS
 * message itself (`@Payload() msg: Msg`: its subject carries the organization and command, its
 * headers the operator), and returns the answer, or undefined when it answered the message
 * itself (a request relayed to another process, say). Route names stand for subjects that
 * depend on the configuration (subject prefix, node id, queue group), given when the transport
 * is made.
 *
 * When each route starts answering is the module's to decide, in its lifecycle hooks (`open`,
 * and `close` in reverse order when it stops); `listen`, at `startAllMicroservices`, opens those
 * still closed.
 */
export class NatsJsonTransport extends Server implements CustomTransportStrategy {
  protected override readonly logger = new Logger('NatsJsonTransport');
  private readonly subscriptions = new Map<string, Subscription>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly routes: Readonly<Record<string, NatsRoute>>,
    /** The answer to a request whose handler failed (it is logged). */
    private readonly failed: () => object,
  ) {
    super();
  }

  /** Starts answering these routes' subjects. */
  open(...names: string[]): void {
    for (const name of names) {
      if (this.subscriptions.has(name)) continue;
      const route = this.routes[name];
      const handler = this.messageHandlers.get(name);
      if (!route || !handler) throw new Error(`no route or no @MessagePattern('${name}') handler`);
      const subscription = this.nc.subscribe(route.subject, {
        queue: route.queue,
        callback: (error, msg) => {
          if (error) this.logger.error({ msg: 'subscription error', route: name, error: String(error) });
          else void this.answer(handler, msg);
        },
      });
      this.subscriptions.set(name, subscription);
    }
  }

  /** Stops taking requests on these routes, once those taken are answered. */
  async close(...names: string[]): Promise<void> {
    const closing = names.length > 0 ? names : [...this.subscriptions.keys()];
    await Promise.all(
      closing.map(async (name) => {
        const subscription = this.subscriptions.get(name);
        this.subscriptions.delete(name);
        await subscription?.drain().catch(() => undefined);
      }),
    );
  }

  listen(callback: () => void): void {
    this.open(...[...this.messageHandlers.keys()].filter((name) => this.routes[name] !== undefined));
    callback();
  }

  on(): void {
    throw new Error('NatsJsonTransport has no events to listen to');
  }

  unwrap<T>(): T {
    return this.nc as T;
  }

  private async answer(handler: MessageHandler, msg: Msg): Promise<void> {
    let body: unknown;
    try {
      const result = await handler(msg, new NatsContext([msg.subject, msg.headers]));
      body = isObservable(result) ? await lastValueFrom(result, { defaultValue: undefined }) : result;
    } catch (error) {
      this.logger.error({ msg: 'request failed', subject: msg.subject, error: String((error as Error)?.stack ?? JSON.stringify(error)) });
      body = this.failed();
    }
    if (body !== undefined && msg.reply) msg.respond(Buffer.from(JSON.stringify(body)));
  }
}
