import { MigrationObject } from '@mikro-orm/core';
import { Migration20261127112806 } from './migrations/Migration20261127112806';
import { Migration20261127113500 } from './migrations/Migration20261127113500';

/** The committed migrations, in order; listed here so that ts-jest and the compiled app load the same set. */
export const MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261127112806', class: Migration20261127112806 },
  { name: 'Migration20261127113500', class: Migration20261127113500 },
];
