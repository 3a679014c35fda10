import { JetStreamManager, nanos, RetentionPolicy, StorageType } from 'nats';

export interface StreamSpec {
  readonly name: string;
  readonly subjects: string[];
  /** Window in which a repeated message id is dropped by the server: covers outbox re-publishes. */
  readonly duplicateWindowMs: number;
  readonly maxAgeMs: number;
}

/** Creates the stream if it is missing; an existing stream is left as its operator configured it. */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  try {
    await jsm.streams.info(spec.name);
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
    });
  } catch (error) {
    // Another process created it between our look and our add.
    if (!/already in use|exists/i.test(String((error as Error).message))) throw error;
  }
}
