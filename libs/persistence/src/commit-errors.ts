/** Why a wallet's batch was not committed: each tells the wallet actor what to do next. */

/** Another writer committed this wallet first: reload and decide again. */
export class VersionConflictError extends Error {
  constructor(readonly orgId: string) {
    super(`wallet ${orgId} was changed by another writer`);
  }
}

/**
 * An idempotency key of the batch is already in the ledger: the batch was decided as if it were
 * new. Nothing of it is committed; look the keys up and decide again.
 */
export class DuplicateKeyError extends Error {
  constructor(readonly orgId: string, readonly keys: readonly string[]) {
    super(`wallet ${orgId}: idempotency keys already in the ledger: ${keys.join(', ')}`);
  }
}

/** The organization's partition was taken by another process since this one took it: it must not write there any more. */
export class FencedError extends Error {
  constructor(readonly orgId: string) {
    super(`wallet ${orgId}: its partition was taken by another engine process`);
  }
}

/** The database refused the batch as breaking an invariant of the ledger: a bug, never a client error. */
export class InvariantViolationError extends Error {
  constructor(readonly orgId: string, readonly reason: string) {
    super(`wallet ${orgId}: the database refused the batch: ${reason}`);
  }
}
