import { randomUUID } from 'crypto';
import { headers, JetStreamClient, NatsConnection } from 'nats';
import { isAuditedWalletCommand, OPERATOR_HEADER } from '@billing/contracts';
import { GpuResource } from '@billing/domain';

/** The operator name the simulator's credits are audited under. */
export const SIMULATOR_OPERATOR = 'simulator';

export interface SimulatorOptions {
  readonly walletPrefix: string;
  readonly lifecyclePrefix: string;
  readonly orgs: number;
  readonly resourcesPerOrg: number;
  readonly currency: 'USD' | 'VND' | 'JPY';
  /** Credit given to each organization at the start. */
  readonly topup: string;
  readonly skus: readonly string[];
  readonly services: readonly string[];
  /** Organization ids are `${orgPrefix}-<n>`. */
  readonly orgPrefix: string;
}

export interface SimResource extends GpuResource {
  status: 'NONE' | 'PENDING' | 'RUNNING' | 'STOPPED' | 'DELETED';
}

/**
 * A GPU control plane for demos and load: owns N organizations with M resources each, tops
 * them up, asks `authorize` before a start, and publishes real lifecycle messages to JetStream
 * (`<lifecyclePrefix>.<orgId>.<resourceId>`), as the platform's own control plane would.
 */
export class ControlPlaneSimulator {
  readonly resources: SimResource[] = [];
  private readonly js: JetStreamClient;
  published = 0;

  /** `funder`: the connection that tops up (an operator's: the control plane's own may not credit). */
  constructor(private readonly nc: NatsConnection, private readonly options: SimulatorOptions, private readonly funder: NatsConnection = nc) {
    this.js = nc.jetstream();
    for (let o = 0; o < options.orgs; o++) {
      const orgId = `${options.orgPrefix}-${o}`;
      for (let r = 0; r < options.resourcesPerOrg; r++) {
        this.resources.push({
          orgId,
          resourceId: `${orgId}-r${r}`,
          workspaceId: `${orgId}-ws${r % 2}`,
          service: options.services[r % options.services.length],
          sku: options.skus[r % options.skus.length],
          storageGb: 50 + 10 * (r % 5),
          status: 'NONE',
        });
      }
    }
  }

  orgIds(): string[] {
    return [...new Set(this.resources.map((r) => r.orgId))];
  }

  async request(orgId: string, command: string, body: object, via: NatsConnection = this.nc): Promise<any> {
    // Credit is an operator's, who names itself (the engine audits it under this name).
    const h = isAuditedWalletCommand(command) ? headers() : undefined;
    h?.set(OPERATOR_HEADER, SIMULATOR_OPERATOR);
    const reply = await via.request(`${this.options.walletPrefix}.wallet.${orgId}.${command}`, Buffer.from(JSON.stringify(body)), { timeout: 30_000, headers: h });
    return JSON.parse(Buffer.from(reply.data).toString('utf8'));
  }

  /** Tops every organization up once (idempotent: running the simulator again credits nothing more). */
  async fund(concurrency = 200): Promise<void> {
    const orgs = this.orgIds();
    for (let i = 0; i < orgs.length; i += concurrency) {
      await Promise.all(
        orgs.slice(i, i + concurrency).map(async (orgId) => {
          const r = await this.request(orgId, 'topup', { idempotencyKey: `sim-topup-${orgId}`, amount: this.options.topup, currency: this.options.currency, provider: 'stripe', reference: `pi_sim_${orgId}` }, this.funder);
          if (!r.ok) throw new Error(`top-up of ${orgId} refused: ${JSON.stringify(r.error)}`);
        }),
      );
    }
  }

  /** Publishes one lifecycle event; JetStream acknowledges it before this resolves. */
  async transition(r: SimResource, status: Exclude<SimResource['status'], 'NONE'>, at = new Date()): Promise<void> {
    const event = { eventId: randomUUID(), orgId: r.orgId, workspaceId: r.workspaceId, resourceId: r.resourceId, service: r.service, sku: r.sku, storageGb: r.storageGb, status, at: at.toISOString() };
    await this.js.publish(`${this.options.lifecyclePrefix}.${r.orgId}.${r.resourceId}`, Buffer.from(JSON.stringify(event)), { msgID: event.eventId });
    r.status = status;
    this.published++;
  }

  /** Starts every resource now (load test): RUNNING for all, `concurrency` publishes in flight. */
  async startAll(concurrency = 2000): Promise<void> {
    for (let i = 0; i < this.resources.length; i += concurrency) {
      await Promise.all(this.resources.slice(i, i + concurrency).map((r) => this.transition(r, 'RUNNING')));
    }
  }

  /**
   * One step of the demo: a random resource moves on the way a user would drive it (start
   * after authorize, stop, start again, delete, and later a fresh one in its place).
   */
  async step(random = Math.random): Promise<string> {
    const r = this.resources[Math.floor(random() * this.resources.length)];
    switch (r.status) {
      case 'NONE':
      case 'DELETED':
      case 'STOPPED': {
        if (r.status === 'STOPPED' && random() < 0.3) {
          await this.transition(r, 'DELETED');
          return `${r.resourceId} deleted`;
        }
        if (r.status === 'DELETED') return `${r.resourceId} stays deleted`;
        const answer = await this.request(r.orgId, 'authorize', { service: r.service, sku: r.sku, workspaceId: r.workspaceId });
        if (!answer.ok || !answer.authorized) return `${r.resourceId} not started: ${answer.reason ?? answer.error?.message}`;
        if (r.status === 'NONE') await this.transition(r, 'PENDING');
        await this.transition(r, 'RUNNING');
        return `${r.resourceId} (${r.sku}, ${r.service}) running`;
      }
      case 'RUNNING':
        await this.transition(r, 'STOPPED');
        return `${r.resourceId} stopped`;
      default:
        return `${r.resourceId} waits`;
    }
  }
}
