import { randomUUID } from 'crypto';
import { headers, JetStreamClient, NatsConnection, Subscription } from 'nats';
import { isAuditedWalletCommand, OPERATOR_HEADER, StopCommand } from '@billing/contracts';
import { GpuResource } from '@billing/domain';

/** The operator name the simulator's credits are audited under. */
export const SIMULATOR_OPERATOR = 'simulator';

/** How long one request to the engine may take before it counts as failed. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Stop commands remembered by id (the engine repeats a command until its STOPPED): the oldest forgotten past this. */
const MAX_REMEMBERED_COMMANDS = 10_000;

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
  /** The first `<n>` of the organization ids (default 0). */
  readonly firstOrg?: number;
  /**
   * Appended to every resource id (`${orgId}-r<n>-${tag}`). A resource deleted once is deleted for
   * good, so a control plane that runs again (the demo, started anew on the same database) needs
   * ids of its own.
   */
  readonly resourceIdTag?: string;
}

export interface SimResource extends GpuResource {
  status: 'NONE' | 'PENDING' | 'RUNNING' | 'STOPPED' | 'DELETED';
}

/** What one step of the control plane did to one resource. */
export interface StepOutcome {
  readonly resource: SimResource;
  readonly action: 'started' | 'refused' | 'stopped' | 'replaced';
  /** Why a start was refused (the engine's `authorize` reason). */
  readonly reason?: string;
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
  /** Resources deleted and replaced by a fresh one, so far. */
  replaced = 0;
  /** The stop commands acted on (or found nothing to stop), by commandId: each is acted on once. */
  private readonly commandsSeen = new Set<string>();

  /** `funder`: the connection that tops up (an operator's: the control plane's own may not credit). */
  constructor(private readonly nc: NatsConnection, private readonly options: SimulatorOptions, private readonly funder: NatsConnection = nc) {
    this.js = nc.jetstream();
    const tag = options.resourceIdTag ? `-${options.resourceIdTag}` : '';
    for (let o = options.firstOrg ?? 0; o < (options.firstOrg ?? 0) + options.orgs; o++) {
      const orgId = `${options.orgPrefix}-${o}`;
      for (let r = 0; r < options.resourcesPerOrg; r++) {
        this.resources.push({
          orgId,
          resourceId: `${orgId}-r${r}${tag}`,
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
    const reply = await via.request(`${this.options.walletPrefix}.wallet.${orgId}.${command}`, Buffer.from(JSON.stringify(body)), { timeout: REQUEST_TIMEOUT_MS, headers: h });
    return JSON.parse(Buffer.from(reply.data).toString('utf8'));
  }

  /** A platform command (`billing.admin.<command>`, voucher codes), as the operator that funds. */
  async admin(command: string, body: object): Promise<any> {
    const h = headers();
    h.set(OPERATOR_HEADER, SIMULATOR_OPERATOR);
    const reply = await this.funder.request(`${this.options.walletPrefix}.admin.${command}`, Buffer.from(JSON.stringify(body)), { timeout: REQUEST_TIMEOUT_MS, headers: h });
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

  /** Starts a resource the way a user's click would: `authorize` first, then PENDING (a new one) and RUNNING. */
  async start(r: SimResource): Promise<StepOutcome> {
    const answer = await this.request(r.orgId, 'authorize', { service: r.service, sku: r.sku, workspaceId: r.workspaceId });
    if (!answer.ok || !answer.authorized) return { resource: r, action: 'refused', reason: answer.reason ?? answer.error?.message };
    if (r.status === 'NONE') await this.transition(r, 'PENDING');
    await this.transition(r, 'RUNNING');
    return { resource: r, action: 'started' };
  }

  /** Deletes a resource and puts a fresh one (a new id, not started yet) in its place. */
  async replace(r: SimResource): Promise<SimResource> {
    await this.transition(r, 'DELETED');
    const base = r.resourceId.replace(/-g\d+$/, '');
    const fresh: SimResource = { ...r, resourceId: `${base}-g${++this.replaced}`, status: 'NONE' };
    const i = this.resources.indexOf(r);
    if (i >= 0) this.resources[i] = fresh;
    else this.resources.push(fresh);
    return fresh;
  }

  /**
   * One step of the demo: a random resource (of those `among` picks) moves on the way a user
   * would drive it: start after authorize, stop, start again, and now and then (when
   * `mayReplace` says so) delete a stopped one, a fresh one taking its place, so it goes on for ever.
   */
  async step(random = Math.random, among: (r: SimResource) => boolean = () => true, mayReplace: (r: SimResource) => boolean = () => random() < 0.3): Promise<StepOutcome | null> {
    const candidates = this.resources.filter((r) => among(r) && r.status !== 'DELETED');
    if (candidates.length === 0) return null;
    const r = candidates[Math.floor(random() * candidates.length)];
    switch (r.status) {
      case 'RUNNING':
      case 'PENDING':
        await this.transition(r, 'STOPPED');
        return { resource: r, action: 'stopped' };
      case 'STOPPED':
        if (mayReplace(r)) return { resource: await this.replace(r), action: 'replaced' };
        return this.start(r);
      default:
        return this.start(r);
    }
  }

  /** Stops every resource of `orgId` that runs (the control plane's answer to a depleted wallet); resolves with how many. */
  async stopRunning(orgId: string): Promise<number> {
    const running = this.resources.filter((r) => r.orgId === orgId && (r.status === 'RUNNING' || r.status === 'PENDING'));
    await Promise.all(running.map((r) => this.transition(r, 'STOPPED')));
    return running.length;
  }

  /**
   * Obeys the engine's commands (`<walletPrefix>.control.<orgId>.stop` and `.delete_storage`): a
   * stop naming a resource this control plane runs stops it (STOPPED, which ends the command), a
   * delete_storage deletes the resource with its stored data (DELETED), once per `commandId`; a
   * repeat, or a command for a resource already there or not its own, does nothing. `onStopped`
   * hears of each stop it made.
   *
   * A core NATS subscription is enough for the demo, which runs beside the engine: a command
   * published while it is away is published again every STOP_REPEAT_MS. A real control plane
   * reads the stream BILLING_CONTROL with a durable consumer of its own and acknowledges each
   * command once acted on, so it misses none across its own restarts (README, "Stop GPUs").
   */
  obeyStops(onStopped: (r: SimResource, command: StopCommand) => void = () => undefined): Subscription {
    return this.nc.subscribe(`${this.options.walletPrefix}.control.*.*`, {
      callback: (error, msg) => {
        if (error) return;
        const kind = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
        if (kind !== 'stop' && kind !== 'delete_storage') return;
        let command: StopCommand;
        try {
          command = JSON.parse(Buffer.from(msg.data).toString('utf8'));
        } catch {
          return;
        }
        if (typeof command?.commandId !== 'string' || this.commandsSeen.has(command.commandId)) return;
        const r = this.resources.find((x) => x.orgId === command.orgId && x.resourceId === command.resourceId);
        // Another simulator's resource (the demo runs two on one connection): that one answers it.
        if (!r) return;
        this.remember(command.commandId);
        const acts = kind === 'stop' ? r.status === 'RUNNING' || r.status === 'PENDING' : r.status !== 'DELETED' && r.status !== 'NONE';
        if (!acts) return;
        this.transition(r, kind === 'stop' ? 'STOPPED' : 'DELETED').then(
          () => (kind === 'stop' ? onStopped(r, command) : undefined),
          // Not published: forgotten, so that the engine's repeat of the command tries again.
          () => this.commandsSeen.delete(command.commandId),
        );
      },
    });
  }

  private remember(commandId: string): void {
    this.commandsSeen.add(commandId);
    if (this.commandsSeen.size > MAX_REMEMBERED_COMMANDS) this.commandsSeen.delete(this.commandsSeen.values().next().value as string);
  }

  /** Deletes every resource not deleted yet (the demo's end: nothing it started goes on being billed). */
  async deleteAll(): Promise<void> {
    await Promise.all(this.resources.filter((r) => r.status !== 'NONE' && r.status !== 'DELETED').map((r) => this.transition(r, 'DELETED')));
  }
}
