import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, errorReply, Subjects } from '@billing/contracts';
import { ErrorCode as NatsErrorCode, headers, Msg, MsgHdrs, NatsConnection, NatsError } from 'nats';
import { BillingMetrics } from '../billing.metrics';
import { BillingConfig } from '../config';
import { CONFIG, NATS } from '../tokens';

/** How long a forwarded request may take at the owner (its own commit included). */
const FORWARD_TIMEOUT_MS = 10_000;
/** Header carrying a forwarded lifecycle message's original subject. */
export const SUBJECT_HEADER = 'Billing-Subject';
/** Header carrying how many times a client's request was forwarded between processes. */
export const HOPS_HEADER = 'Billing-Hops';
/**
 * A client's request is forwarded at most this many times: once to the owner its first process
 * sees, and once more if that one has just handed the organization on (the views of two
 * processes can lag one move behind each other). Past it, it is answered UNAVAILABLE: no loop.
 */
export const MAX_HOPS = 2;

/** How many times a request that reached this process was forwarded on its way (0: from a client). */
export function hopsOf(msg: Msg): number {
  const hops = Number(msg.headers?.get(HOPS_HEADER) || 0);
  return Number.isInteger(hops) && hops > 0 ? hops : 0;
}

/**
 * Requests between engine processes: a process that receives a request (from the queue group,
 * or a lifecycle message from the shared consumer) for an organization another process owns
 * forwards it there on `<prefix>.node.<owner>.…`, and relays the answer. The owner (its
 * NodeController) checks it owns the organization again, and forwards a forwarded request on
 * only while it has been forwarded fewer than MAX_HOPS times.
 */
@Injectable()
export class Peers {
  constructor(
    @Inject(CONFIG) private readonly config: BillingConfig,
    @Inject(NATS) private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly metrics: BillingMetrics,
  ) {}

  /** Throws if a running process answers to this NODE_ID (call before listening to it). */
  async refuseDuplicateNode(): Promise<void> {
    try {
      await this.nc.request(this.subjects.node(this.config.nodeId, 'ping'), new Uint8Array(), { timeout: 1000 });
    } catch (error) {
      // Nobody listens on that name (or nobody answered it): this process may take it.
      if ((error as NatsError).code === NatsErrorCode.NoResponders || (error as NatsError).code === NatsErrorCode.Timeout) return;
      throw error;
    }
    throw new Error(`another engine process with NODE_ID '${this.config.nodeId}' is running; give each process its own NODE_ID`);
  }

  /**
   * Sends `data` to `node` as `<prefix>.node.<node>.<rest>`; resolves with its answer. `carried`:
   * the request's own headers, which travel with it (an operator command's `Billing-Operator`).
   */
  async forward(kind: string, node: string, rest: string, data: Uint8Array, subject?: string, carried?: MsgHdrs, hops?: number): Promise<Uint8Array> {
    const h = subject === undefined && carried === undefined && hops === undefined ? undefined : headers();
    for (const [name, values] of carried ?? []) if (name.toLowerCase() !== HOPS_HEADER.toLowerCase()) for (const value of values) h!.append(name, value);
    if (subject !== undefined) h!.set(SUBJECT_HEADER, subject);
    if (hops !== undefined) h!.set(HOPS_HEADER, String(hops));
    try {
      const reply = await this.nc.request(this.subjects.node(node, rest), data, { timeout: FORWARD_TIMEOUT_MS, headers: h });
      this.metrics.forwarded.inc({ kind, outcome: 'answered' });
      return reply.data;
    } catch (error) {
      const code = (error as NatsError).code;
      this.metrics.forwarded.inc({ kind, outcome: code === NatsErrorCode.NoResponders ? 'owner-gone' : code === NatsErrorCode.Timeout ? 'timeout' : 'error' });
      throw error;
    }
  }

  /** Forwards a client's request (its `hops`-th forwarding) and relays the owner's answer; answers UNAVAILABLE if the owner cannot be reached. */
  relay(kind: string, node: string, rest: string, msg: Msg, what: string, hops: number): void {
    this.forward(kind, node, rest, msg.data, undefined, msg.headers, hops).then(
      (data) => msg.reply && msg.respond(data),
      (error) => {
        const gone = (error as NatsError).code === NatsErrorCode.NoResponders;
        const text = gone ? `the engine process serving ${what} is gone; its organizations move to another process within seconds: retry` : `no answer from the engine process serving ${what}: retry`;
        if (msg.reply) msg.respond(Buffer.from(JSON.stringify(errorReply(ErrorCode.UNAVAILABLE, `${text} (with the same idempotency key)`))));
      },
    );
  }
}
