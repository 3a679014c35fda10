import { natsAuth, NatsAuth } from '@billing/messaging';
import { envInt, envSetting, GuardedSetting, guardedSetting } from '@billing/observability';
import { OperatorTokenSettings } from './operator-token';

export const DEV_OPERATOR_JWT_SECRET = 'dev-only-operator-secret-change-me';
export const DEFAULT_OPERATOR_JWT_AUDIENCE = 'gpu-billing-operator';
/** Fifteen minutes: an operator token moves money, so a stolen one is worth little for long. */
export const DEFAULT_OPERATOR_JWT_MAX_LIFETIME_SECONDS = 900;
export const MAX_OPERATOR_JWT_LIFETIME_SECONDS = 3600;
/** A creds file for the gateway's connection as the NATS user `operator` (its own `NATS_CREDS` is the `gateway` user's). */
export const OPERATOR_NATS_CREDS = 'OPERATOR_NATS_CREDS';
const MIN_DEV_SECRET_LENGTH = 16;
const CLAIM_TEXT = /^[\x21-\x7e]{1,200}$/;

/** 32 characters at least in production, as for JWT_SECRET. */
export const OPERATOR_JWT_SECRET_SETTING: GuardedSetting = { name: 'OPERATOR_JWT_SECRET', devDefault: DEV_OPERATOR_JWT_SECRET, minLength: 32 };

/** What the gateway's operator API needs in production (part of GATEWAY_SECRETS). */
export const OPERATOR_SECRETS: readonly GuardedSetting[] = [OPERATOR_JWT_SECRET_SETTING, { name: 'NATS_PASSWORD_OPERATOR', orElse: OPERATOR_NATS_CREDS }];

/** The gateway's operator API: its tokens, and its connection to the bus as the NATS user `operator`. */
export interface OperatorSettings {
  readonly tokens: OperatorTokenSettings;
  readonly nats: NatsAuth;
}

/**
 * Operator tokens are another credential than the organizations': another secret and another
 * audience, both refused at start when equal to the organizations' (then an organization token's
 * signer could make operator tokens, or one token would pass both checks).
 */
export function loadOperatorSettings(env: NodeJS.ProcessEnv, organizations: { readonly secret: string; readonly issuer: string; readonly audience: string }): OperatorSettings {
  const secret = guardedSetting(env, OPERATOR_JWT_SECRET_SETTING);
  if (secret.length < MIN_DEV_SECRET_LENGTH) throw new Error(`OPERATOR_JWT_SECRET must be at least ${MIN_DEV_SECRET_LENGTH} characters`);
  if (secret === organizations.secret) throw new Error('OPERATOR_JWT_SECRET must differ from JWT_SECRET: whoever signs organization tokens must not be able to sign operator tokens');
  const issuer = envSetting(env, 'OPERATOR_JWT_ISSUER') ?? organizations.issuer;
  const audience = envSetting(env, 'OPERATOR_JWT_AUDIENCE') ?? DEFAULT_OPERATOR_JWT_AUDIENCE;
  for (const [name, value] of [['OPERATOR_JWT_ISSUER', issuer], ['OPERATOR_JWT_AUDIENCE', audience]]) {
    if (!CLAIM_TEXT.test(value)) throw new Error(`${name} must be 1 to 200 printable characters without spaces, got '${value}'`);
  }
  if (audience === organizations.audience) throw new Error('OPERATOR_JWT_AUDIENCE must differ from JWT_AUDIENCE: operator tokens are for another audience');
  return {
    tokens: { secret, issuer, audience, maxLifetimeSeconds: envInt(env, 'OPERATOR_JWT_MAX_LIFETIME_SECONDS', DEFAULT_OPERATOR_JWT_MAX_LIFETIME_SECONDS, 60, MAX_OPERATOR_JWT_LIFETIME_SECONDS) },
    // NATS_PASSWORD_OPERATOR, or OPERATOR_NATS_CREDS in the place of NATS_CREDS (the gateway user's); TLS settings shared.
    nats: natsAuth('operator', { ...env, NATS_CREDS: env[OPERATOR_NATS_CREDS] ?? '' }),
  };
}
