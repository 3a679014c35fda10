import { openDatabase, WebhookRepository } from '@billing/persistence';
import { AlertsConfig, loadAlertsConfig } from './alerts.config';
import { SecretBox } from './secret-box';
import { WebhookSecrets } from './webhook-secrets';

/**
 * The re-encryption step of a key rotation (docs/alerts.md, "Rotating the key"): seals with the
 * active key every webhook secret sealed with another key or still in plain text, then prints how
 * many endpoints each key holds. Same settings as the alert service; safe while it runs.
 *
 *   node -r ./scripts/register-paths.js dist/apps/alerts/src/reencrypt-secrets.js
 *
 * Exits 1 if a secret could not be opened (its key is not configured): nothing else is lost.
 */
async function main(): Promise<void> {
  let config: AlertsConfig;
  try {
    config = loadAlertsConfig();
  } catch (error) {
    process.stderr.write(`re-encryption refused: ${(error as Error)?.message ?? error}\n`);
    process.exit(78);
  }
  const { secretKeys, activeSecretKeyId } = config.webhookSecurity;
  const orm = await openDatabase(config.databaseUrl, 2);
  try {
    const secrets = new WebhookSecrets(new SecretBox(secretKeys, activeSecretKeyId), new WebhookRepository(orm));
    const report = await secrets.reseal();
    process.stdout.write(`${JSON.stringify({ activeKeyId: activeSecretKeyId, ...report })}\n`);
    if (report.unreadable > 0) {
      process.stderr.write(`${report.unreadable} secret(s) could not be opened with the configured keys; configure the key that sealed them and run again\n`);
      process.exitCode = 1;
    }
  } finally {
    await orm.close(true);
  }
}

main().catch((error) => {
  process.stderr.write(`re-encryption failed: ${(error as Error)?.stack ?? error}\n`);
  process.exit(1);
});
