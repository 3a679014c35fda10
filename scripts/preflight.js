// `npm start`'s first step, before the build: can NATS and PostgreSQL be reached, as the processes
// will reach them? Each failure gets one message: what could not be reached, where (credentials
// hidden), why (nothing listening, no answer, credentials refused, no such database), which
// setting to change and how to start one locally. Exit 1 on any failure, 0 with one line if all is well.
// Plain Node with what `npm ci` installed (nats, pg): it runs before dist/ exists.
//
// It reads the settings the processes read: NATS_URL, DATABASE_URL (or DATABASE_URL_FILE),
// each role's NATS_PASSWORD_<ROLE> (or _FILE) or NATS_CREDS, and NATS_TLS_CA/CERT/KEY, as
// libs/messaging/src/nats-auth.ts and libs/observability/src/env.ts do; a process checks its own
// settings again at start and names any that does not fit.
const { existsSync, readdirSync, readFileSync } = require('fs');
const path = require('path');
const { connect, credsAuthenticator } = require('nats');
const { Client } = require('pg');

/** Each check gives up after this long: a first run should not wait for a server that is not there. */
const CHECK_TIMEOUT_MS = 3000;
/** The defaults of libs/messaging/src/nats-connection.ts and libs/persistence/src/mikro-orm.config.ts. */
const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/test';
const README_NATS_USERS = 'README, "NATS users and permissions"';

/** A setting from <NAME> or the file <NAME>_FILE names (libs/observability/src/env.ts, envSetting). */
function setting(env, name) {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct && file) throw new Error(`${name} and ${name}_FILE are both set; set one`);
  if (!file) return direct || undefined;
  try {
    return readFileSync(file, 'utf8').replace(/[\r\n]+$/, '') || undefined;
  } catch (error) {
    throw new Error(`${name}_FILE '${file}' cannot be read: ${error.code ?? error.message}`);
  }
}

/** The NATS users `npm start`'s processes connect as: the engine, the gateway (and its operator API), the alert service, and the demo's control plane. */
function natsRoles(env) {
  const demo = env.NODE_ENV !== 'production' && env.DEMO !== 'off';
  return ['billing', 'gateway', 'alerts', 'operator', ...(demo ? ['control-plane'] : [])];
}

function passwordVariable(role) {
  return `NATS_PASSWORD_${role.toUpperCase().replace(/-/g, '_')}`;
}

/** Connection options carrying a role's credentials, as natsAuth and natsConnectionOptions build them. */
function natsCredentials(env, role) {
  const password = setting(env, passwordVariable(role));
  // The gateway's operator API takes OPERATOR_NATS_CREDS in the place of NATS_CREDS (apps/gateway/src/operator/operator.config.ts).
  const credsVariable = role === 'operator' && env.OPERATOR_NATS_CREDS ? 'OPERATOR_NATS_CREDS' : 'NATS_CREDS';
  const credsFile = env[credsVariable] || undefined;
  const options = {};
  if (password !== undefined) {
    options.user = role;
    options.pass = password;
  } else if (credsFile !== undefined) {
    if (!existsSync(credsFile)) throw new Error(`${credsVariable} '${credsFile}' does not exist`);
    options.authenticator = credsAuthenticator(() => readFileSync(credsFile));
  }
  const [ca, cert, key] = ['NATS_TLS_CA', 'NATS_TLS_CERT', 'NATS_TLS_KEY'].map((name) => env[name] || undefined);
  if (ca || cert) options.tls = { ...(ca ? { caFile: ca } : {}), ...(cert ? { certFile: cert, keyFile: key } : {}) };
  return { options, method: password !== undefined ? 'password' : credsFile !== undefined ? 'creds' : 'none', variable: password !== undefined ? passwordVariable(role) : credsVariable };
}

/** `host:port` of each server in NATS_URL, without any user or password written in it. */
function natsWhere(url) {
  return url
    .split(',')
    .map((server) => {
      try {
        const u = new URL(server.includes('://') ? server : `nats://${server}`);
        return `${u.hostname}:${u.port || 4222}`;
      } catch {
        return '(unreadable address)';
      }
    })
    .join(', ');
}

function isLocal(host) {
  return ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host);
}

function onPath(command) {
  return (process.env.PATH || '').split(path.delimiter).some((dir) => dir && existsSync(path.join(dir, command)));
}

/** How the README starts a NATS on this machine. */
function startNatsHint(where) {
  if (!where.split(', ').every((w) => isLocal(w.replace(/:\d+$/, '')))) return '';
  const port = where.split(', ')[0].replace(/^.*:/, '');
  const flags = port === '4222' ? '-js' : `-js -p ${port}`;
  const install = onPath('nats-server') ? '' : ' (after `apt-get install nats-server`)';
  return `, or start one here: \`nats-server ${flags}\`${install}, a development NATS that lets anyone in (with the shipped users and passwords instead: ${README_NATS_USERS})`;
}

/** How the README starts PostgreSQL on this machine (.ci/run: Debian's cluster; or the compose file's). */
function startPostgresHint(host) {
  if (!isLocal(host)) return '';
  let cluster = '';
  try {
    const versions = readdirSync('/etc/postgresql');
    if (versions.length > 0) cluster = `\`pg_ctlcluster ${versions[versions.length - 1]} main start\` (Debian's PostgreSQL, as .ci/run starts it) or `;
  } catch {
    // not Debian's packaging
  }
  return `, or start it here: ${cluster}\`docker compose up -d postgres\``;
}

/** What the setting is now, as a parenthesis after its name. */
function currently(env, name, value, fallback) {
  return env[name] || env[`${name}_FILE`] ? `now ${value}` : `not set: the default ${fallback}`;
}

/** `promise`, or a PREFLIGHT_TIMEOUT error after `ms` (a client's own timeout does not cover every step). */
function within(ms, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms / 1000} s`), { code: 'PREFLIGHT_TIMEOUT' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function connectNats(url, role, options) {
  const nc = await connect({ servers: url.split(','), name: `npm-start-preflight-${role}`, timeout: CHECK_TIMEOUT_MS, reconnect: false, maxReconnectAttempts: 0, ...options });
  const jetstream = nc.info?.jetstream === true;
  await nc.close();
  return { jetstream };
}

const NATS_UNREACHABLE = { CONNECTION_REFUSED: 'connection refused: nothing listens there', TIMEOUT: `no NATS answered within ${CHECK_TIMEOUT_MS / 1000} s (a firewall, or another kind of server on that port)`, ENOTFOUND: 'no such host', EAI_AGAIN: 'the host name could not be resolved', EHOSTUNREACH: 'no route to the host', ENETUNREACH: 'network unreachable' };
const NATS_REFUSED_AUTH = new Set(['AUTHORIZATION_VIOLATION', 'AUTHENTICATION_EXPIRED', 'AUTHENTICATION_TIMEOUT']);

/** One message per NATS failure (unreachable, users refused, no JetStream), or none. */
async function checkNats(env) {
  const url = env.NATS_URL || DEFAULT_NATS_URL;
  const where = natsWhere(url);
  const now = currently(env, 'NATS_URL', url.replace(/\/\/[^/@]*@/g, '//***@'), DEFAULT_NATS_URL);
  const roles = natsRoles(env);
  const attempts = await Promise.all(
    roles.map(async (role) => {
      let credentials;
      try {
        credentials = natsCredentials(env, role);
      } catch (error) {
        return { role, setting: error };
      }
      try {
        return { role, credentials, ...(await within(CHECK_TIMEOUT_MS + 500, connectNats(url, role, credentials.options))) };
      } catch (error) {
        return { role, credentials, error };
      }
    }),
  );
  const messages = attempts.filter((a) => a.setting).map((a) => `NATS: ${a.setting.message} (the ${a.role} user's setting). Fix it, or unset it.`);
  const unreachable = attempts.find((a) => a.error && !NATS_REFUSED_AUTH.has(a.error.code));
  if (unreachable) {
    const e = unreachable.error;
    const why = NATS_UNREACHABLE[e.code] ?? (e.code === 'PREFLIGHT_TIMEOUT' ? NATS_UNREACHABLE.TIMEOUT : `${e.code ?? ''} ${e.message}`.trim());
    const hint = e.code === 'CONNECTION_REFUSED' ? startNatsHint(where) : '';
    messages.push(`NATS is not reachable at ${where}: ${why}. Set NATS_URL (${now}) to a NATS with JetStream${hint}.`);
    return messages;
  }
  const refused = attempts.filter((a) => a.error);
  if (refused.length > 0) {
    const none = refused.filter((a) => a.credentials.method === 'none');
    const wrong = refused.filter((a) => a.credentials.method !== 'none');
    if (none.length > 0) {
      const variables = none.map((a) => passwordVariable(a.role)).join(', ');
      const creds = none.some((a) => a.role === 'operator') ? 'NATS_CREDS or OPERATOR_NATS_CREDS' : 'NATS_CREDS';
      messages.push(`NATS at ${where} lets in only its users (as config/nats/nats-server.conf does), and no credentials are set for ${none.map((a) => a.role).join(', ')}. Set ${variables} to the passwords it was started with (or ${creds}, a creds file; ${README_NATS_USERS}), or set NATS_URL (${now}) to a development NATS that lets anyone in.`);
    }
    if (wrong.length > 0) {
      messages.push(`NATS at ${where} refused the credentials of ${wrong.map((a) => `the ${a.role} user (${a.credentials.variable})`).join(', ')}: a wrong password or creds file, or a server without these users. Set ${wrong.length > 1 ? 'each' : 'it'} to what the server was started with (${README_NATS_USERS}).`);
    }
    return messages;
  }
  if (attempts.some((a) => a.jetstream === false)) {
    messages.push(`NATS at ${where} runs without JetStream, which the engine needs (its events, lifecycle stream and leases). Start it with \`-js\` (or config/nats/nats-server.conf, which turns it on), or set NATS_URL (${now}) to one that has it.`);
  }
  return messages;
}

/** The database URL to show: no password, no query (which may carry one). */
function redactDatabaseUrl(u) {
  const shown = new URL(u.href);
  if (shown.password) shown.password = '***';
  shown.search = '';
  return shown.href;
}

const PG_UNREACHABLE = { ECONNREFUSED: 'connection refused: nothing listens there', ENOTFOUND: 'no such host', EAI_AGAIN: 'the host name could not be resolved', EHOSTUNREACH: 'no route to the host', ENETUNREACH: 'network unreachable', ETIMEDOUT: 'the connection timed out' };

/** One message if PostgreSQL cannot be used as DATABASE_URL says (unreachable, login refused, no such database), else none. */
async function checkPostgres(env) {
  let raw;
  try {
    raw = setting(env, 'DATABASE_URL') ?? DEFAULT_DATABASE_URL;
  } catch (error) {
    return [`PostgreSQL: ${error.message}.`];
  }
  let u;
  try {
    u = new URL(raw);
    if (!['postgres:', 'postgresql:'].includes(u.protocol)) throw new Error('not postgres');
  } catch {
    return [`PostgreSQL: DATABASE_URL is not a PostgreSQL URL (postgresql://user:password@host:port/database; the default is ${DEFAULT_DATABASE_URL}).`];
  }
  const host = u.hostname || '127.0.0.1';
  const port = u.port || '5432';
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres';
  const user = decodeURIComponent(u.username) || '(the system user)';
  const where = `${host}:${port}`;
  const now = currently(env, 'DATABASE_URL', redactDatabaseUrl(u), DEFAULT_DATABASE_URL);
  // No connectionTimeoutMillis: pg reports it as the connection "terminated unexpectedly", like a server that hung up.
  const client = new Client({ connectionString: raw });
  client.on('error', () => undefined); // a server going away after the check: not the check's concern
  try {
    await within(CHECK_TIMEOUT_MS, client.connect().then(() => client.query('select 1')));
    return [];
  } catch (error) {
    const code = error.code;
    if (code === '28P01' || code === '28000' || /password|SASL|SCRAM/i.test(error.message)) {
      return [`PostgreSQL at ${where} refused user ${user}: ${error.message}. Set DATABASE_URL (${now}) with a user and password it accepts (postgresql://user:password@${where}/${database}).`];
    }
    if (code === '3D000') {
      return [`PostgreSQL at ${where} has no database ${database}. Create it (\`createdb -h ${host} -p ${port} -U ${u.username || 'postgres'} ${database}\`), or set DATABASE_URL (${now}) to one that exists; the engine creates its tables itself.`];
    }
    if (code === '57P03') return [`PostgreSQL at ${where} is starting up or shutting down: run npm start again in a moment.`];
    const why = PG_UNREACHABLE[code] ?? (code === 'PREFLIGHT_TIMEOUT' || /timeout/i.test(error.message) ? `no answer within ${CHECK_TIMEOUT_MS / 1000} s` : /terminated unexpectedly/.test(error.message) ? 'the server there closed the connection (is it PostgreSQL?)' : `${code ?? ''} ${error.message}`.trim());
    const hint = code === 'ECONNREFUSED' ? startPostgresHint(host) : '';
    return [`PostgreSQL is not reachable at ${where}: ${why}. Set DATABASE_URL (${now}) to a PostgreSQL${hint}.`];
  } finally {
    client.end().catch(() => undefined);
  }
}

/** Every problem found, each one message; empty when both can be used. */
async function preflight(env = process.env) {
  const [nats, postgres] = await Promise.all([checkNats(env), checkPostgres(env)]);
  return [...nats, ...postgres];
}

module.exports = { preflight };

if (require.main === module) {
  preflight().then(
    (problems) => {
      if (problems.length === 0) {
        process.stdout.write(`preflight: NATS at ${natsWhere(process.env.NATS_URL || DEFAULT_NATS_URL)} and PostgreSQL answer\n`);
        return;
      }
      for (const problem of problems) process.stderr.write(`npm start: ${problem}\n`);
      process.stderr.write(`npm start stopped before building: ${problems.length === 1 ? 'fix this' : `fix these ${problems.length}`} and run it again.\n`);
      process.exit(1);
    },
    (error) => {
      process.stderr.write(`npm start: the preflight check itself failed: ${error.stack ?? error}\n`);
      process.exit(1);
    },
  );
}
