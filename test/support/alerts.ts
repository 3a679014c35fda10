import { LookupAddress } from 'dns';
import { AlertsConfig, loadAlertsConfig } from '../../apps/alerts/src/alerts.config';
import { WebhookResolver } from '../../apps/alerts/src/webhook-target-guard';
import { NATS_URL, TEST_HEALTH_DETAILS_TOKEN, TestNames, testDatabaseUrl } from './engine';

/** The alert service's settings for a test: the test engine's database, subjects and stream, and any free HTTP port. */
export function testAlertsConfig(names: TestNames, env: Record<string, string> = {}): AlertsConfig {
  return loadAlertsConfig({
    ...process.env,
    DATABASE_URL: testDatabaseUrl(),
    NATS_URL,
    SUBJECT_PREFIX: names.subjectPrefix,
    EVENTS_STREAM: names.eventsStream,
    // The shipped name, which the NATS permissions of the `alerts` user name (the stream is the test's own).
    ALERTS_CONSUMER: 'alerts',
    ALERTS_QUEUE_GROUP: `${names.subjectPrefix}-alerts`,
    // Any free port: tests run beside other services on the machine.
    ALERTS_HTTP_PORT: '0',
    HEALTH_DETAILS_TOKEN: TEST_HEALTH_DETAILS_TOKEN,
    // The tests' webhook receivers listen on 127.0.0.1, which the service refuses unless listed.
    ALERTS_WEBHOOK_ALLOW_CIDRS: '127.0.0.1/32',
    ...env,
  });
}

/** example.com's public address, for webhook URLs a test registers but never delivers to. */
export const EXAMPLE_COM_ADDRESS = '93.184.216.34';

/**
 * DNS for the alert service in tests, so that they do not depend on the machine's resolver:
 * `table` first, then example.com and its subdomains (public, never delivered to), nothing else.
 * A table entry may be a function, asked at every lookup (a name that changes its answer).
 */
export function testResolver(table: Record<string, string[] | (() => string[])> = {}): WebhookResolver {
  return async (host) => {
    const entry = table[host];
    const addresses = typeof entry === 'function' ? entry() : entry ?? (host === 'example.com' || host.endsWith('.example.com') ? [EXAMPLE_COM_ADDRESS] : []);
    if (addresses.length === 0) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}
