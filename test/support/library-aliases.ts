import path from 'path';
import { register } from 'tsconfig-paths';

/**
 * Jest's global setup and teardown run outside its module mapper: the `@billing/*` aliases are
 * resolved here for them (imported first, before anything that uses an alias).
 */
const root = path.join(__dirname, '..', '..');
// eslint-disable-next-line @typescript-eslint/no-var-requires
register({ baseUrl: root, paths: require(path.join(root, 'tsconfig.json')).compilerOptions.paths });
