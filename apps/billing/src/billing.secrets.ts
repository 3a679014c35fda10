import { natsCredentialSetting } from '@billing/messaging';
import { GuardedSetting } from '@billing/observability';
import { DATABASE_URL_SETTING } from '@billing/persistence';

/** What the engine refuses to start without in production (README, "Production checklist"). */
export const BILLING_SECRETS: readonly GuardedSetting[] = [
  // NATS_PASSWORD_BILLING (the NATS user `billing`'s password, as libs/messaging connects), or else NATS_CREDS.
  natsCredentialSetting('billing'),
  DATABASE_URL_SETTING,
];
