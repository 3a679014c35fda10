import { natsCredentialSetting } from '@billing/messaging';
import { GuardedSetting } from '@billing/observability';
import { DATABASE_URL_SETTING } from '@billing/persistence';

/**
 * What the alert service refuses to start without in production (README, "Production
 * checklist"), named together in one message. The webhook secrets' key is checked further
 * (its form, not the public development key) where it is read: webhook-security.config.ts.
 */
export const ALERTS_SECRETS: readonly GuardedSetting[] = [
  // NATS_PASSWORD_ALERTS (the NATS user `alerts`'s password, as libs/messaging connects), or else NATS_CREDS.
  natsCredentialSetting('alerts'),
  DATABASE_URL_SETTING,
  { name: 'ALERTS_SECRET_KEY', orElse: 'ALERTS_SECRET_KEYS' },
];
