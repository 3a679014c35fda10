// Prints an organization's token for the gateway (its HTTP API, socket.io and dashboard), in
// development only, and that organization's dashboard address on stderr:
//   npm run --silent token -- --org demo-org-1              (valid JWT_MAX_LIFETIME_SECONDS, 1 hour by default)
//   npm run --silent token -- --org demo-org-1 --ttl 600    (10 minutes)
// It signs with the gateway's own settings (JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE; the development
// defaults unless set) through the gateway's issueToken. With NODE_ENV=production it refuses: a
// deployment's tokens come from its identity provider, and the secret never sits on a laptop.
require('./register-paths');
const { isProduction } = require('../dist/libs/observability/src/env');

const USAGE = 'usage: npm run --silent token -- --org <organization id> [--ttl <seconds>]';

if (isProduction(process.env)) {
  console.error('npm run token refuses NODE_ENV=production: organization tokens come from the identity provider there (README, "Production checklist")');
  process.exit(78);
}

/** `--org X --ttl N` (or `--org=X`), nothing else. */
function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    if (flag !== '--org' && flag !== '--ttl') return { error: `unknown argument '${argv[i]}'` };
    const value = inline ?? argv[++i];
    if (value === undefined) return { error: `${flag} needs a value` };
    args[flag.slice(2)] = value;
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
if (args.error || !args.org) {
  console.error(args.error ? `${args.error}\n${USAGE}` : USAGE);
  process.exit(64);
}
const { ORG_ID } = require('../dist/libs/contracts/src');
if (!ORG_ID.test(args.org)) {
  console.error(`'${args.org}' is not an organization id (${ORG_ID})\n${USAGE}`);
  process.exit(64);
}
const { issueToken } = require('../dist/apps/gateway/src/auth/token');
const { loadGatewayConfig } = require('../dist/apps/gateway/src/config');
const { tokens, port } = loadGatewayConfig();
const ttl = args.ttl === undefined ? tokens.maxLifetimeSeconds : Number(args.ttl);
if (!Number.isInteger(ttl) || ttl < 1 || ttl > tokens.maxLifetimeSeconds) {
  console.error(`--ttl is in whole seconds from 1 to ${tokens.maxLifetimeSeconds} (JWT_MAX_LIFETIME_SECONDS), not '${args.ttl}'`);
  process.exit(64);
}
const token = issueToken(tokens, { org: args.org, sub: 'npm-run-token' }, ttl);
process.stdout.write(`${token}\n`);
process.stderr.write(`token of ${args.org}, valid ${ttl} s; its dashboard: http://localhost:${port}/#token=${token}\n`);
