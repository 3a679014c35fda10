import { createHmac } from 'crypto';
import { parseSignatureHeader, signWebhook, verifyWebhookSignature } from './webhook-signature';

describe('webhook signature', () => {
  const secret = 'whsec_0123456789abcdef';
  const body = '{"eventId":"3f0c","type":"depleted"}';
  const t = 1_790_000_000;

  it('is t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
    expect(signWebhook(body, secret, t)).toBe(`t=${t},v1=${expected}`);
  });

  it('verifies the same bytes, as a string or a buffer', () => {
    const header = signWebhook(Buffer.from(body), secret, t);
    expect(verifyWebhookSignature(body, header, secret, 300, t + 10)).toBe(true);
    expect(verifyWebhookSignature(Buffer.from(body), header, secret, 300, t - 10)).toBe(true);
  });

  it('refuses another body, another secret, or a timestamp outside the tolerance', () => {
    const header = signWebhook(body, secret, t);
    expect(verifyWebhookSignature(body + ' ', header, secret, 300, t)).toBe(false);
    expect(verifyWebhookSignature(body, header, 'another-secret-of-16', 300, t)).toBe(false);
    expect(verifyWebhookSignature(body, header, secret, 300, t + 301)).toBe(false);
    expect(verifyWebhookSignature(body, header.replace(`t=${t}`, `t=${t + 1}`), secret, 300, t)).toBe(false);
  });

  it('accepts any matching v1 among several (secret rotation) and ignores unknown schemes', () => {
    const good = signWebhook(body, secret, t);
    const other = signWebhook(body, 'the-old-secret-0000', t).split(',')[1];
    expect(verifyWebhookSignature(body, `${good.split(',')[0]},${other},v0=abc,${good.split(',')[1]}`, secret, 300, t)).toBe(true);
  });

  it('refuses unreadable headers', () => {
    for (const header of ['', 'v1=00', 't=abc,v1=00', `t=${t}`, `t=${t},t=${t},v1=${'0'.repeat(64)}`, 'x'.repeat(5000)]) {
      expect(parseSignatureHeader(header)).toBeNull();
      expect(verifyWebhookSignature(body, header, secret, 300, t)).toBe(false);
    }
    expect(verifyWebhookSignature(body, undefined, secret, 300, t)).toBe(false);
  });
});
