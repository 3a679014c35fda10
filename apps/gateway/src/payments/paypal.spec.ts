import { createServer } from 'http';
import { AddressInfo } from 'net';
import { MAX_PAYPAL_CERT_BYTES, paypalCertificateFetcher, paypalSignedMessage } from './paypal';

describe('paypal', () => {
  it('signs the CRC-32 of the raw body as an unsigned decimal', () => {
    // CRC-32 of "123456789" is the standard check value 0xCBF43926.
    expect(paypalSignedMessage({ transmissionId: 'id', transmissionTime: 't' }, 'WH', Buffer.from('123456789'))).toBe(`id|t|WH|${0xcbf43926}`);
  });

  /** A fetch that counts its calls and answers PEM: a refused URL must never reach it. */
  function countingFetch() {
    const calls: string[] = [];
    const impl = (async (url: URL | string) => {
      calls.push(String(url));
      return new Response('PEM');
    }) as unknown as typeof fetch;
    return { calls, impl };
  }

  it("fetches certificates from PayPal's exact API hosts and certificate path only, refusing others without a fetch", async () => {
    const { calls, impl } = countingFetch();
    const live = paypalCertificateFetcher('live', impl);
    for (const url of [
      'https://evil.example/v1/notifications/certs/CERT-1',
      'http://api.paypal.com/v1/notifications/certs/CERT-1',
      'https://paypal.com.evil.example/v1/notifications/certs/CERT-1',
      // Hosts under paypal.com that are not its API: anyone who can put a file there could sign.
      'https://www.paypal.com/v1/notifications/certs/CERT-1',
      'https://evil.paypal.com/v1/notifications/certs/CERT-1',
      'https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1',
      // The right host, another path, a query, a port, a user, a fragment.
      'https://api.paypal.com/v1/oauth2/token',
      'https://api.paypal.com/v1/notifications/certs/CERT-1/../../../somewhere',
      'https://api.paypal.com/v1/notifications/certs/CERT-1?x=1',
      'https://api.paypal.com:8443/v1/notifications/certs/CERT-1',
      'https://user@api.paypal.com/v1/notifications/certs/CERT-1',
      'https://api.paypal.com/v1/notifications/certs/CERT-1#x',
      'https://api.paypal.com/v1/notifications/certs/',
      // The sandbox's hosts are not the live environment's.
      'https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1',
      'not a url',
    ]) {
      await expect(live(url)).rejects.toThrow(/not PayPal's|not a URL/);
    }
    expect(calls).toEqual([]);
    await expect(live('https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77')).resolves.toBe('PEM');
    await expect(live('https://api-m.paypal.com/v1/notifications/certs/CERT-1')).resolves.toBe('PEM');
    const sandbox = paypalCertificateFetcher('sandbox', impl);
    await expect(sandbox('https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1')).resolves.toBe('PEM');
    await expect(sandbox('https://api.paypal.com/v1/notifications/certs/CERT-1')).rejects.toThrow(/not PayPal's/);
    expect(calls).toHaveLength(3);
  });

  it('refuses a certificate response whose declared length is over the limit without reading it', async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const impl = (async () => new Response(body, { headers: { 'content-length': String(MAX_PAYPAL_CERT_BYTES + 1) } })) as unknown as typeof fetch;
    await expect(paypalCertificateFetcher('live', impl)('https://api.paypal.com/v1/notifications/certs/CERT-1')).rejects.toThrow(/over 65536/);
    // At most what the stream had queued before anyone read: nothing was read.
    expect(pulled).toBeLessThanOrEqual(1);
  });

  it('cuts an endless certificate response off at the limit: the transfer is aborted, not read to the end', async () => {
    // A real server that sends without end (chunked, no length), and counts what it could write.
    let written = 0;
    let closed!: () => void;
    const serverClosed = new Promise<void>((resolve) => (closed = resolve));
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      const chunk = Buffer.alloc(16 * 1024, 0x41);
      const pump = () => {
        while (!res.destroyed && written < 64 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('close', closed);
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      // PayPal's URL is checked, then the request goes to the local server instead (as a proxy would).
      const seen: string[] = [];
      const impl = ((url: URL, init: RequestInit) => {
        seen.push(String(url));
        return fetch(`http://127.0.0.1:${port}/cert`, init);
      }) as unknown as typeof fetch;
      await expect(paypalCertificateFetcher('live', impl)('https://api.paypal.com/v1/notifications/certs/CERT-1')).rejects.toThrow(/cut off past 65536 bytes/);
      expect(seen).toEqual(['https://api.paypal.com/v1/notifications/certs/CERT-1']);
      // The connection was closed from our side long before the server ran out of data.
      await serverClosed;
      expect(written).toBeLessThan(8 * 1024 * 1024);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
