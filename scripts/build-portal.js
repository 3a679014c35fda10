#!/usr/bin/env node
// Bundles the customer portal (apps/gateway/portal: Preact + htm, Chart.js) into one file the
// gateway serves, apps/gateway/public/build/portal.js, with esbuild from node_modules: nothing is
// downloaded, and it takes well under a second. `npm run build`, `npm start` and the tests' global
// setup run it; the output is git-ignored (a build product, never edited by hand).
const path = require('path');
const esbuild = require('esbuild');

const root = path.join(__dirname, '..');
const OUT = path.join(root, 'apps', 'gateway', 'public', 'build', 'portal.js');

function buildPortal() {
  return esbuild.buildSync({
    entryPoints: [path.join(root, 'apps', 'gateway', 'portal', 'main.js')],
    outfile: OUT,
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'iife',
    target: ['es2020'],
    legalComments: 'linked',
    logLevel: 'warning',
  });
}

if (require.main === module) buildPortal();
module.exports = { buildPortal, PORTAL_BUNDLE: OUT };
