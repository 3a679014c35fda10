import { MigrationObject } from '@mikro-orm/core';
import { Migration20261127111445 } from './migrations/Migration20261127111445';

/** The committed migrations, in order; listed here so that ts-jest and the compiled app load the same set. */
export const MIGRATIONS: MigrationObject[] = [{ name: 'Migration20261127111445', class: Migration20261127111445 }];
