import { AlertsConfig, loadAlertsConfig } from '../../apps/alerts/src/alerts.config';
import { NATS_URL, TestNames, testDatabaseUrl } from './engine';

/** The alert service's settings for a test: the test engine's database, subjects and stream, and any free HTTP port. */
export function testAlertsConfig(names: TestNames, env: Record<string, string> = {}): AlertsConfig {
  return loadAlertsConfig({
    ...process.env,
    DATABASE_URL: testDatabaseUrl(),
    NATS_URL,
    SUBJECT_PREFIX: names.subjectPrefix,
    EVENTS_STREAM: names.eventsStream,
    ALERTS_CONSUMER: `${names.subjectPrefix}-alerts`,
    ALERTS_QUEUE_GROUP: `${names.subjectPrefix}-alerts`,
    // Any free port: tests run beside other services on the machine.
    ALERTS_HTTP_PORT: '0',
    ...env,
  });
}
