/** NATS subjects of the wire contract (DESIGN.md section 5); the prefix is configurable. */
export const WALLET_COMMANDS = ['topup', 'grant', 'debit', 'reverse', 'payment.topup', 'payment.reverse', 'redeem', 'balance', 'ledger', 'authorize', 'alerts.set', 'usage', 'resources', 'budgets.set', 'budgets.get', 'ladder.set', 'ladder.get'] as const;
export type WalletCommandName = (typeof WALLET_COMMANDS)[number];

/**
 * `lifecycle_rejected`: a lifecycle message of the organization was refused for good;
 * `gpu_stop_requested`: the engine asked the control plane to stop a running GPU (its command
 * is on `billing.control.<orgId>.stop`);
 * `workspace_budget_reached`: a workspace's spend this month reached 80% or 100% of its cap;
 * `runway_low`: the time to zero at the current burn fell below a mark (RUNWAY_MARKS);
 * `storage_suspension_scheduled`, `storage_suspension_reminder`, `storage_suspension_cancelled`,
 * `storage_deletion_requested`: the ladder's storage step (a countdown to deleting stored data);
 * `auto_topup_failed`: an auto top-up failed and auto top-up was turned off (the gateway
 * publishes it, the only event not the engine's). DESIGN.md section 5 lists the rest.
 */
export const EVENT_TYPES = ['balance', 'low_balance', 'depleted', 'grant_expired', 'grant_expiring', 'lifecycle_rejected', 'auto_topup_failed', 'gpu_stop_requested', 'workspace_budget_reached', 'runway_low', 'storage_suspension_scheduled', 'storage_suspension_reminder', 'storage_suspension_cancelled', 'storage_deletion_requested'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
/**
 * The events some consumer needs each one of (the alert service's webhooks, a control plane's
 * durable consumer): written to the outbox with their batch and kept in the events stream.
 * `balance` is not among them: it is the live push, on core NATS only (README, Decisions).
 */
export const DURABLE_EVENT_TYPES = EVENT_TYPES.filter((t): t is Exclude<EventType, 'balance'> => t !== 'balance');

/** Commands the engine sends the control plane (issue 15's enforcement ladder). */
export const CONTROL_COMMANDS = ['stop', 'delete_storage'] as const;
export type ControlCommandName = (typeof CONTROL_COMMANDS)[number];

export class Subjects {
  constructor(readonly prefix = 'billing') {}

  /** `billing.wallet.<orgId>.<command>`; commands may contain dots (`alerts.set`). */
  walletCommand(orgId: string, command: string): string {
    return `${this.prefix}.wallet.${orgId}.${command}`;
  }

  walletWildcard(): string {
    return `${this.prefix}.wallet.*.>`;
  }

  /** Splits a wallet command subject into organization and command, or null if it is not one. */
  splitWalletSubject(subject: string): { orgId: string; command: string } | null {
    const head = `${this.prefix}.wallet.`;
    if (!subject.startsWith(head)) return null;
    const rest = subject.slice(head.length);
    const dot = rest.indexOf('.');
    if (dot <= 0) return null;
    return { orgId: rest.slice(0, dot), command: rest.slice(dot + 1) };
  }

  /** Platform administration (voucher codes): `billing.admin.<command>`. */
  admin(command: string): string {
    return `${this.prefix}.admin.${command}`;
  }

  /**
   * Between engine processes (not for clients): `billing.node.<nodeId>.<rest>` reaches one
   * process, which owns the organization a request is forwarded for.
   */
  node(nodeId: string, rest: string): string {
    return `${this.prefix}.node.${nodeId}.${rest}`;
  }

  event(orgId: string, type: EventType): string {
    return `${this.prefix}.events.${orgId}.${type}`;
  }

  /** The subjects of the durable events, `billing.events.*.<type>`: what the events stream keeps. */
  durableEventSubjects(): string[] {
    return DURABLE_EVENT_TYPES.map((type) => `${this.prefix}.events.*.${type}`);
  }

  /** A command to the control plane: `billing.control.<orgId>.<command>` (`stop`, `delete_storage`), kept in the control stream. */
  control(orgId: string, command: ControlCommandName): string {
    return `${this.prefix}.control.${orgId}.${command}`;
  }

  /** What the control stream keeps: `billing.control.>`. */
  controlSubjects(): string[] {
    return [`${this.prefix}.control.>`];
  }

  /**
   * Organization and type of an event subject, `billing.events.<orgId>.<type>`, or null if it is
   * not one. The subject is what NATS permissions vouch for (only the engine may publish there, and
   * the gateway `auto_topup_failed` alone).
   */
  parseEvent(subject: string): { orgId: string; type: string } | null {
    const head = `${this.prefix}.events.`;
    if (!subject.startsWith(head)) return null;
    const parts = subject.slice(head.length).split('.');
    return parts.length === 2 && parts[0] && parts[1] ? { orgId: parts[0], type: parts[1] } : null;
  }
}

/** Lifecycle input from the GPU control plane: `gpu.lifecycle.<orgId>.<resourceId>` (prefix configurable). */
export class LifecycleSubjects {
  constructor(readonly prefix = 'gpu.lifecycle') {}

  of(orgId: string, resourceId: string): string {
    return `${this.prefix}.${orgId}.${resourceId}`;
  }

  wildcard(): string {
    return `${this.prefix}.>`;
  }

  parse(subject: string): { orgId: string; resourceId: string } | null {
    if (!subject.startsWith(`${this.prefix}.`)) return null;
    const parts = subject.slice(this.prefix.length + 1).split('.');
    return parts.length === 2 && parts[0] && parts[1] ? { orgId: parts[0], resourceId: parts[1] } : null;
  }
}
