import { InputError } from '@billing/contracts';
import { MAX_WEBHOOK_ENDPOINTS, parseWebhookEndpoints, parseWebhookSubject } from './webhook-commands';

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof InputError ? e.code : `not an InputError: ${e}`;
  }
  return 'no error';
};

describe('webhook commands', () => {
  const secret = 's'.repeat(16);

  it('reads the organization and command from the subject', () => {
    expect(parseWebhookSubject('billing', 'billing.alerts.org-1.webhooks.set')).toEqual({ orgId: 'org-1', command: 'set' });
    expect(codeOf(() => parseWebhookSubject('billing', 'billing.alerts.org-1.webhooks.delete'))).toBe('UNKNOWN_COMMAND');
    expect(codeOf(() => parseWebhookSubject('billing', 'billing.alerts.org 1.webhooks.get'))).toBe('INVALID_ORG_ID');
  });

  it('normalizes URLs and keeps the secrets', () => {
    expect(parseWebhookEndpoints({ endpoints: [{ url: 'HTTPS://Example.com:443/hook', secret }] })).toEqual([{ url: 'https://example.com/hook', secret }]);
    expect(parseWebhookEndpoints({ endpoints: [] })).toEqual([]);
  });

  it('refuses what it cannot deliver to or sign with', () => {
    expect(codeOf(() => parseWebhookEndpoints({}))).toBe('MISSING_FIELD');
    expect(codeOf(() => parseWebhookEndpoints({ endpoints: 'x' }))).toBe('INVALID_FIELD');
    expect(codeOf(() => parseWebhookEndpoints({ endpoints: [{ url: 'ftp://example.com/', secret }] }))).toBe('INVALID_FIELD');
    expect(codeOf(() => parseWebhookEndpoints({ endpoints: [{ url: 'not a url', secret }] }))).toBe('INVALID_FIELD');
    expect(codeOf(() => parseWebhookEndpoints({ endpoints: [{ url: 'https://example.com/', secret: 'short' }] }))).toBe('INVALID_FIELD');
    expect(codeOf(() => parseWebhookEndpoints({ endpoints: [{ url: 'https://example.com/', secret: 's'.repeat(257) }] }))).toBe('INVALID_FIELD');
    expect(codeOf(() => parseWebhookEndpoints({ endpoints: [{ url: 'https://example.com/' }] }))).toBe('MISSING_FIELD');
    expect(codeOf(() => parseWebhookEndpoints({ endpoints: [{ url: 'https://a.example/', secret }, { url: 'https://A.example/', secret }] }))).toBe('INVALID_FIELD');
    const many = Array.from({ length: MAX_WEBHOOK_ENDPOINTS + 1 }, (_, i) => ({ url: `https://example.com/${i}`, secret }));
    expect(codeOf(() => parseWebhookEndpoints({ endpoints: many }))).toBe('INVALID_FIELD');
  });
});
