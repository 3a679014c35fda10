import { MigrationObject } from '@mikro-orm/core';
import { Migration20261127114407 } from './migrations/Migration20261127114407';
import { Migration20261127114500 } from './migrations/Migration20261127114500';

/** The committed migrations, in order; listed here so that ts-jest and the compiled app load the same set. */
export const MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261127114407', class: Migration20261127114407 },
  { name: 'Migration20261127114500', class: Migration20261127114500 },
];
