import { paypalCertificateFetcher, paypalSignedMessage, readPaypalEvent } from './paypal';

describe('paypal', () => {
  it('signs the CRC-32 of the raw body as an unsigned decimal', () => {
    // CRC-32 of "123456789" is the standard check value 0xCBF43926.
    expect(paypalSignedMessage({ transmissionId: 'id', transmissionTime: 't' }, 'WH', Buffer.from('123456789'))).toBe(`id|t|WH|${0xcbf43926}`);
  });

  it('fetches certificates from https://*.paypal.com only', async () => {
    const fetcher = paypalCertificateFetcher((async () => new Response('PEM')) as unknown as typeof fetch);
    await expect(fetcher('https://evil.example/cert')).rejects.toThrow(/not PayPal's/);
    await expect(fetcher('http://api.paypal.com/cert')).rejects.toThrow(/not PayPal's/);
    await expect(fetcher('https://paypal.com.evil.example/cert')).rejects.toThrow(/not PayPal's/);
    await expect(fetcher('https://api.paypal.com/v1/notifications/certs/CERT-1')).resolves.toBe('PEM');
  });

  it('finds the capture of a refund through its up link', () => {
    const outcome = readPaypalEvent({ event_type: 'PAYMENT.CAPTURE.REFUNDED', resource: { id: 'R1', amount: { value: '5.00', currency_code: 'USD' }, links: [{ rel: 'up', href: 'https://api.paypal.com/v2/payments/captures/CAP1' }] } });
    expect(outcome).toMatchObject({ kind: 'reversed', captureId: 'CAP1' });
  });
});
