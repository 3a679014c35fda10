import { existsSync, readFileSync } from 'fs';
import { envSetting } from '@billing/observability';
import { ConnectionOptions, credsAuthenticator } from 'nats';

/**
 * The users of `config/nats/nats-server.conf`, one per kind of process, each allowed only the
 * subjects its processes use (docs/nats-security.md has the table).
 */
export const NATS_ROLES = ['billing', 'gateway', 'alerts', 'control-plane', 'operator'] as const;
export type NatsRole = (typeof NATS_ROLES)[number];

/** A creds file (decentralized JWT auth) instead of the role's password. */
export const NATS_CREDS_VARIABLE = 'NATS_CREDS';
export const NATS_TLS_VARIABLES = { ca: 'NATS_TLS_CA', cert: 'NATS_TLS_CERT', key: 'NATS_TLS_KEY' } as const;

/** `NATS_PASSWORD_BILLING`, `NATS_PASSWORD_CONTROL_PLANE`, ...: the same variable the server's config reads. */
export function natsPasswordVariable(role: NatsRole): string {
  return `NATS_PASSWORD_${role.toUpperCase().replace(/-/g, '_')}`;
}

/** The NATS credential of a role as a setting production must have: its password, or else a creds file. */
export function natsCredentialSetting(role: NatsRole): { readonly name: string; readonly orElse: string } {
  return { name: natsPasswordVariable(role), orElse: NATS_CREDS_VARIABLE };
}

export interface NatsAuth {
  readonly role: NatsRole;
  /** `none`: no credentials, development only (a server with the shipped config refuses it). */
  readonly method: 'password' | 'creds' | 'none';
  /** The role's user name (with `password`). */
  readonly user?: string;
  readonly password?: string;
  readonly credsFile?: string;
  /** TLS with these files (a CA to verify the server; a certificate and key for mutual TLS). */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  /** Set when the process connects without credentials: the one warning it logs. */
  readonly warning?: string;
}

function isProduction(env: NodeJS.ProcessEnv): boolean {
  return env.NODE_ENV === 'production';
}

/** The variables a process of `role` lacks to connect with credentials (each naming its alternative); empty when it has them. */
export function missingNatsCredentials(role: NatsRole, env: NodeJS.ProcessEnv = process.env): string[] {
  const name = natsPasswordVariable(role);
  return env[name] || env[`${name}_FILE`] || env[NATS_CREDS_VARIABLE] ? [] : [`${name} (or ${NATS_CREDS_VARIABLE})`];
}

function existingFile(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const path = env[name] || undefined;
  if (path !== undefined && !existsSync(path)) throw new Error(`${name} '${path}' does not exist`);
  return path;
}

/**
 * How a process of `role` proves itself to NATS, from its environment, checked once at start:
 * `NATS_PASSWORD_<ROLE>` or `NATS_PASSWORD_<ROLE>_FILE` (user: the role's name) or `NATS_CREDS`, and `NATS_TLS_CA`,
 * `NATS_TLS_CERT`, `NATS_TLS_KEY` for TLS and mutual TLS. Throws naming the variable when a
 * setting is wrong, and, with NODE_ENV=production, when there are no credentials at all.
 * Without credentials in development it returns `method: 'none'` with a warning to log.
 */
export function natsAuth(role: NatsRole, env: NodeJS.ProcessEnv = process.env): NatsAuth {
  if (!(NATS_ROLES as readonly string[]).includes(role)) throw new Error(`'${role}' is not a NATS role (${NATS_ROLES.join(', ')})`);
  const passwordVariable = natsPasswordVariable(role);
  const password = envSetting(env, passwordVariable);
  const credsFile = existingFile(env, NATS_CREDS_VARIABLE);
  if (password !== undefined && credsFile !== undefined) throw new Error(`${passwordVariable} and ${NATS_CREDS_VARIABLE} are both set; set one`);
  const caFile = existingFile(env, NATS_TLS_VARIABLES.ca);
  const certFile = existingFile(env, NATS_TLS_VARIABLES.cert);
  const keyFile = existingFile(env, NATS_TLS_VARIABLES.key);
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new Error(`${NATS_TLS_VARIABLES.cert} and ${NATS_TLS_VARIABLES.key} go together (mutual TLS): set both or neither`);
  }
  const tls = caFile || certFile ? { caFile, certFile, keyFile } : undefined;
  if (password !== undefined) return { role, method: 'password', user: role, password, tls };
  if (credsFile !== undefined) return { role, method: 'creds', credsFile, tls };
  if (isProduction(env)) {
    throw new Error(`NATS credentials of the '${role}' role are missing: set ${passwordVariable} (or ${NATS_CREDS_VARIABLE}, a creds file); NODE_ENV=production does not connect without them`);
  }
  return {
    role,
    method: 'none',
    tls,
    warning: `connecting to NATS without credentials because ${passwordVariable} is not set: fine for a development NATS that lets anyone in, refused by a server running config/nats/nats-server.conf, and by NODE_ENV=production`,
  };
}

/** The connection options that carry `auth`. */
export function natsConnectionOptions(auth: NatsAuth): Partial<ConnectionOptions> {
  const options: Partial<ConnectionOptions> = {};
  if (auth.method === 'password') {
    options.user = auth.user;
    options.pass = auth.password;
  }
  if (auth.method === 'creds') {
    const file = auth.credsFile!;
    options.authenticator = credsAuthenticator(() => readFileSync(file));
  }
  if (auth.tls) {
    options.tls = {
      ...(auth.tls.caFile ? { caFile: auth.tls.caFile } : {}),
      ...(auth.tls.certFile ? { certFile: auth.tls.certFile, keyFile: auth.tls.keyFile } : {}),
    };
  }
  return options;
}
