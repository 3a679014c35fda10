// Prints an operator token for the gateway's operator API (/api/v1/operator), in development only
// (after npm run build, which npm start does):
//   npm run --silent operator-token -- alice         (sub = alice, OPERATOR_JWT_MAX_LIFETIME_SECONDS)
// It signs with the gateway's OPERATOR_JWT_SECRET setting (the development default unless set).
// With NODE_ENV=production it refuses: a deployment's operators get their tokens from its identity
// provider, and the secret never sits on an operator's machine.
require('./register-paths');
const { isProduction } = require('../dist/libs/observability/src/env');

if (isProduction(process.env)) {
  console.error('npm run operator-token refuses NODE_ENV=production: operator tokens come from the identity provider there (README, "Operators and the audit")');
  process.exit(78);
}
const operator = process.argv[2];
if (!operator) {
  console.error('usage: npm run operator-token -- <operator name> (the token\'s sub, which the audit records)');
  process.exit(64);
}
const { issueOperatorToken } = require('../dist/apps/gateway/src/operator/operator-token');
const { loadGatewayConfig } = require('../dist/apps/gateway/src/config');
const { operators, port } = loadGatewayConfig();
process.stdout.write(`${issueOperatorToken(operators.tokens, operator)}\n`);
process.stderr.write(`operator token for '${operator}', valid ${operators.tokens.maxLifetimeSeconds} s: curl -H "Authorization: Bearer <token>" http://localhost:${port}/api/v1/operator/audit\n`);
