import { MigrationObject } from '@mikro-orm/core';
import { Migration20261127120043 } from './migrations/Migration20261127120043';
import { Migration20261127120100 } from './migrations/Migration20261127120100';
import { Migration20261127130000 } from './migrations/Migration20261127130000';
import { Migration20261127150000 } from './migrations/Migration20261127150000';
import { Migration20261127160000 } from './migrations/Migration20261127160000';
import { Migration20261127170000 } from './migrations/Migration20261127170000';
import { Migration20261127180000 } from './migrations/Migration20261127180000';
import { Migration20261127191500 } from './migrations/Migration20261127191500';
import { Migration20261202100000 } from './migrations/Migration20261202100000';
import { Migration20261205100000 } from './migrations/Migration20261205100000';
import { Migration20261210100000 } from './migrations/Migration20261210100000';
import { Migration20261212100000 } from './migrations/Migration20261212100000';
import { Migration20261220100000 } from './migrations/Migration20261220100000';
import { Migration20261221100000 } from './migrations/Migration20261221100000';
import { Migration20261230100000 } from './migrations/Migration20261230100000';
import { Migration20261231100000 } from './migrations/Migration20261231100000';

/** The committed migrations, in order; listed here so that ts-jest and the compiled app load the same set. */
export const MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261127120043', class: Migration20261127120043 },
  { name: 'Migration20261127120100', class: Migration20261127120100 },
  { name: 'Migration20261127130000', class: Migration20261127130000 },
  { name: 'Migration20261127150000', class: Migration20261127150000 },
  { name: 'Migration20261127160000', class: Migration20261127160000 },
  { name: 'Migration20261127170000', class: Migration20261127170000 },
  { name: 'Migration20261127180000', class: Migration20261127180000 },
  { name: 'Migration20261127191500', class: Migration20261127191500 },
  { name: 'Migration20261202100000', class: Migration20261202100000 },
  { name: 'Migration20261205100000', class: Migration20261205100000 },
  { name: 'Migration20261210100000', class: Migration20261210100000 },
  { name: 'Migration20261212100000', class: Migration20261212100000 },
  { name: 'Migration20261220100000', class: Migration20261220100000 },
  { name: 'Migration20261221100000', class: Migration20261221100000 },
  { name: 'Migration20261230100000', class: Migration20261230100000 },
  { name: 'Migration20261231100000', class: Migration20261231100000 },
];
