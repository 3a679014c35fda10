import { Logger } from '@nestjs/common';
import { AckPolicy, ConsumerConfig, ConsumerUpdateConfig, DeliverPolicy, JetStreamManager, nanos } from 'nats';

/** A setting a service owns on an existing consumer: set back to the service's value at every start. */
export type OwnedConsumerSetting = 'ack_wait' | 'max_deliver' | 'filter_subjects';

/** A durable pull consumer as a service wants it. */
export interface DurableConsumerSettings {
  readonly name: string;
  /** How long the server waits for an acknowledgement before it delivers the message again. */
  readonly ackWaitMs: number;
  /** Deliveries before JetStream gives up on a message, unrecorded; -1: no limit. */
  readonly maxDeliver: number;
  /** Delivered and not acknowledged (retries waiting included): past this the server sends no more. */
  readonly maxAckPending: number;
  /** One subject is made a `filter_subject`; several, `filter_subjects` (NATS 2.10 and later). */
  readonly filterSubjects: readonly string[];
  /**
   * For a server that takes one filter only: the wider subject taken instead, the handler
   * skipping what it does not want. Without it, such a server's refusal stops the start.
   */
  readonly singleFilterFallback?: string;
  /**
   * What an existing consumer is set back to. Every other setting stays as its operator (or an
   * older version of the service) made it: an operator may, say, shorten an ack wait.
   */
  readonly owned: readonly OwnedConsumerSetting[];
}

/** A delivery limit as JetStream means it: none is -1 (0 and a missing value too). */
function deliveryLimit(maxDeliver: number | undefined): number {
  return maxDeliver === undefined || maxDeliver <= 0 ? -1 : maxDeliver;
}

function sameSubjects(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && b.every((s) => a.includes(s));
}

/**
 * What to change on an existing consumer for the settings it owns to be the service's, with
 * their values before; empty when nothing differs. Filters are changed only on a consumer made
 * with several (one made by a version that knew fewer subjects would never be given the new
 * ones); a single filter (the fallback, or an operator's choice) is left.
 */
export function consumerChanges(existing: ConsumerConfig, wanted: DurableConsumerSettings): { update: Partial<ConsumerUpdateConfig>; before: Partial<ConsumerConfig> } {
  const update: Partial<ConsumerUpdateConfig> = {};
  const before: Partial<ConsumerConfig> = {};
  if (wanted.owned.includes('ack_wait') && existing.ack_wait !== nanos(wanted.ackWaitMs)) {
    update.ack_wait = nanos(wanted.ackWaitMs);
    before.ack_wait = existing.ack_wait;
  }
  if (wanted.owned.includes('max_deliver') && deliveryLimit(existing.max_deliver) !== deliveryLimit(wanted.maxDeliver)) {
    update.max_deliver = wanted.maxDeliver;
    before.max_deliver = existing.max_deliver;
  }
  const filters = existing.filter_subjects ?? [];
  if (wanted.owned.includes('filter_subjects') && filters.length > 0 && !sameSubjects(filters, wanted.filterSubjects)) {
    update.filter_subjects = [...wanted.filterSubjects];
    before.filter_subjects = filters;
  }
  return { update, before };
}

/**
 * Creates the durable consumer if it is missing, else sets back the settings the service owns
 * (with a log line: a change an operator made is undone). Every process of a service calls it
 * at start, and again whenever consuming starts over.
 */
export async function ensureDurableConsumer(jsm: JetStreamManager, stream: string, wanted: DurableConsumerSettings, logger: Logger, serverVersion?: string): Promise<void> {
  let existing: ConsumerConfig | null = null;
  try {
    existing = (await jsm.consumers.info(stream, wanted.name)).config;
  } catch (error) {
    if (!/consumer not found/i.test(String((error as Error)?.message))) throw error;
  }
  if (existing) {
    const { update, before } = consumerChanges(existing, wanted);
    if (Object.keys(update).length === 0) return;
    await jsm.consumers.update(stream, wanted.name, update);
    logger.warn({ msg: 'consumer settings the service owns set back', stream, consumer: wanted.name, before, after: update });
    return;
  }
  const base: Partial<ConsumerConfig> = {
    durable_name: wanted.name,
    ack_policy: AckPolicy.Explicit,
    // From the start of the stream: what was published before the first start is not lost either.
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(wanted.ackWaitMs),
    max_deliver: wanted.maxDeliver,
    max_ack_pending: wanted.maxAckPending,
  };
  if (wanted.filterSubjects.length === 1) return add(jsm, stream, { ...base, filter_subject: wanted.filterSubjects[0] });
  try {
    await add(jsm, stream, { ...base, filter_subjects: [...wanted.filterSubjects] });
  } catch (error) {
    // Servers before 2.10 take one filter only.
    if (!wanted.singleFilterFallback || !/requires server/i.test(String((error as Error)?.message))) throw error;
    logger.warn({ msg: 'NATS server takes one consumer filter only; the wider filter is taken and the rest skipped', stream, consumer: wanted.name, filter: wanted.singleFilterFallback, server: serverVersion });
    await add(jsm, stream, { ...base, filter_subject: wanted.singleFilterFallback });
  }
}

async function add(jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig>): Promise<void> {
  try {
    await jsm.consumers.add(stream, config);
  } catch (error) {
    // Another process of the service created it between our look and our add.
    if (!/already (in use|exists)/i.test(String((error as Error)?.message))) throw error;
  }
}
