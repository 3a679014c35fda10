import { JetStreamManager, nanos, RetentionPolicy, StorageType } from 'nats';
import { Subjects } from '@billing/contracts';
import { envInt } from '@billing/observability';

export interface StreamSpec {
  readonly name: string;
  readonly subjects: string[];
  /** Window in which a repeated message id is dropped by the server: covers outbox re-publishes. */
  readonly duplicateWindowMs: number;
  readonly maxAgeMs: number;
  /** Copies of each message on as many servers of a NATS cluster (1 on a single server). */
  readonly replicas: number;
}

/**
 * `JETSTREAM_REPLICAS`: how many servers of a NATS cluster keep each stream and key-value bucket
 * the engine creates (1, the default, on a single server; 3 on the three-node cluster of
 * config/nats/nats-cluster-node.conf, so that losing one server loses nothing). Every process
 * that may create them (engine, alert service) must read the same value.
 */
export function jetStreamReplicas(env: NodeJS.ProcessEnv): number {
  return envInt(env, 'JETSTREAM_REPLICAS', 1, 1, 5);
}

/**
 * The engine's stream of durable events (`<prefix>.events.*.<type>` of each durable type; not
 * `balance`, which is live only): whichever service starts first creates it, with these settings.
 */
export function eventsStreamSpec(name: string, subjectPrefix: string, replicas: number): StreamSpec {
  return { name, subjects: new Subjects(subjectPrefix).durableEventSubjects(), duplicateWindowMs: 10 * 60_000, maxAgeMs: 7 * 24 * 3600_000, replicas };
}

/** The control plane's lifecycle stream: kept as long as a lifecycle event may be late (30 days). */
export function lifecycleStreamSpec(name: string, subjectPrefix: string, replicas: number): StreamSpec {
  return { name, subjects: [`${subjectPrefix}.>`], duplicateWindowMs: 2 * 60_000, maxAgeMs: 30 * 86_400_000, replicas };
}

/** How long a JetStream setup call (a stream, the lease bucket) is tried again at start while the cluster does not answer. */
export const JETSTREAM_SETUP_PATIENCE_MS = 60_000;

/**
 * A JetStream API call made at start, tried again while the servers do not answer it (a timeout,
 * or no responders: a cluster electing its meta leader after a node restarted, or busy creating a
 * replicated stream) for up to `patienceMs`; any other error, or the last one, is thrown.
 */
export async function withJetStreamPatience<T>(call: () => Promise<T>, patienceMs = JETSTREAM_SETUP_PATIENCE_MS): Promise<T> {
  const deadline = Date.now() + patienceMs;
  for (let wait = 250; ; wait = Math.min(wait * 2, 4000)) {
    try {
      return await call();
    } catch (error) {
      const code = String((error as { code?: string }).code ?? '');
      const busy = code === 'TIMEOUT' || code === '503' || /timeout|no responders/i.test(String((error as Error)?.message));
      if (!busy || Date.now() + wait > deadline) throw error;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * Creates the stream if it is missing. An existing stream keeps the limits, storage and replicas
 * its operator gave it; only its subjects are the engine's (what it publishes where), and set to
 * the spec's when they differ: a stream made before `balance` left it (`<prefix>.events.>`) stops
 * storing every balance push. Tried again while the servers do not answer (`withJetStreamPatience`).
 */
export function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  return withJetStreamPatience(() => ensureStreamOnce(jsm, spec));
}

async function ensureStreamOnce(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  try {
    const { config } = await jsm.streams.info(spec.name);
    const same = [...config.subjects].sort().join(' ') === [...spec.subjects].sort().join(' ');
    if (!same) await jsm.streams.update(spec.name, { ...config, subjects: spec.subjects });
    return;
  } catch (error) {
    if (!/stream not found/i.test(String((error as Error).message))) throw error;
  }
  try {
    await jsm.streams.add({
      name: spec.name,
      subjects: spec.subjects,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      duplicate_window: nanos(spec.duplicateWindowMs),
      max_age: nanos(spec.maxAgeMs),
      num_replicas: spec.replicas,
    });
  } catch (error) {
    // Another process created it between our look and our add.
    if (!/already in use|exists/i.test(String((error as Error).message))) throw error;
  }
}

/**
 * The control plane's commands from the engine (`<prefix>.control.>`: stop commands), read with a
 * durable consumer of the control plane's. Kept a week, as the events; a stop is repeated while
 * pending, each repeat a message of its own (its id is the command's and the repeat's slot).
 */
export function controlStreamSpec(name: string, subjectPrefix: string, replicas: number): StreamSpec {
  return { name, subjects: new Subjects(subjectPrefix).controlSubjects(), duplicateWindowMs: 10 * 60_000, maxAgeMs: 7 * 24 * 3600_000, replicas };
}
