import { randomBytes } from 'crypto';
import { NatsConnection } from 'nats';
import { connectAs } from './nats-roles';

export interface ResourceSpec {
  readonly orgId: string;
  readonly resourceId: string;
  readonly workspaceId?: string;
  readonly service?: string;
  readonly sku?: string;
  readonly storageGb?: number;
}

/** Publishes lifecycle events to JetStream the way the control plane does. */
export class ControlPlane {
  private n = 0;
  constructor(readonly nc: NatsConnection, private readonly prefix: string) {}

  /** A control plane with a connection of its own, as the NATS user `control-plane`. */
  static async connect(prefix: string): Promise<ControlPlane> {
    return new ControlPlane(await connectAs('control-plane'), prefix);
  }

  async close(): Promise<void> {
    await this.nc.close();
  }

  async publish(r: ResourceSpec, status: string, at: Date | number, eventId = `e-${r.resourceId}-${++this.n}-${randomBytes(2).toString('hex')}`): Promise<string> {
    const body = {
      eventId,
      orgId: r.orgId,
      workspaceId: r.workspaceId ?? 'ws-1',
      resourceId: r.resourceId,
      service: r.service ?? 'gpu-container',
      sku: r.sku ?? 'h100-1x',
      storageGb: r.storageGb ?? 0,
      status,
      at: new Date(at).toISOString(),
    };
    await this.raw(`${this.prefix}.${r.orgId}.${r.resourceId}`, JSON.stringify(body));
    return eventId;
  }

  async raw(subject: string, body: string): Promise<void> {
    await this.nc.jetstream().publish(subject, Buffer.from(body));
  }
}

export async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met in time; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await read();
  }
  return last;
}
