// Generates a migration from the difference between the entities and the database at DATABASE_URL.
// Run `npm run build` first; the new file lands in libs/persistence/src/migrations and must be
// added to its index.ts.
const path = require('path');
require('./register-paths');
const { MikroORM } = require('@mikro-orm/postgresql');
const { ormConfig } = require('../dist/libs/persistence/src/mikro-orm.config');

(async () => {
  const config = ormConfig();
  config.migrations = { ...config.migrations, path: path.join(__dirname, '../libs/persistence/src/migrations'), emit: 'ts', migrationsList: undefined };
  const orm = await MikroORM.init(config);
  const result = await orm.getMigrator().createMigration(undefined, false, process.argv.includes('--initial'));
  console.log(result.fileName || 'no changes');
  await orm.close(true);
})().catch((e) => { console.error(e); process.exit(1); });
