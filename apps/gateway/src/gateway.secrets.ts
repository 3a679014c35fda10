import { natsCredentialSetting } from '@billing/messaging';
import { GuardedSetting } from '@billing/observability';
import { DATABASE_URL_SETTING } from '@billing/persistence';
import { OPERATOR_SECRETS } from './operator/operator.config';
import { PAYMENTS_SECRETS } from './payments/payments.config';

export const DEV_JWT_SECRET = 'dev-only-secret-change-me';

/** 32 characters at least in production: an HS256 key as long as its hash (RFC 7518, 3.2). */
export const JWT_SECRET_SETTING: GuardedSetting = { name: 'JWT_SECRET', devDefault: DEV_JWT_SECRET, minLength: 32 };

/** What the gateway refuses to start without in production (README, "Production checklist"). */
export const GATEWAY_SECRETS: readonly GuardedSetting[] = [
  // NATS_PASSWORD_GATEWAY (the NATS user `gateway`'s password, as libs/messaging connects), or else NATS_CREDS.
  natsCredentialSetting('gateway'),
  DATABASE_URL_SETTING,
  JWT_SECRET_SETTING,
  // OPERATOR_JWT_SECRET, and NATS_PASSWORD_OPERATOR (or OPERATOR_NATS_CREDS) for the operator API.
  ...OPERATOR_SECRETS,
  ...PAYMENTS_SECRETS,
];
