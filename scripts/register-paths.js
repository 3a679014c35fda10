// Resolves the monorepo's `@billing/*` library aliases inside the compiled `dist/` tree.
const path = require('path');
const tsconfigPaths = require('tsconfig-paths');
const { compilerOptions } = require('../tsconfig.json');
tsconfigPaths.register({ baseUrl: path.join(__dirname, '..', 'dist'), paths: compilerOptions.paths });
