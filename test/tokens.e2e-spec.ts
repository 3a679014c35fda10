import jwt from 'jsonwebtoken';
import { Socket } from 'socket.io-client';
import { startEngine, TestEngine, WalletClient } from './support/engine';
import { connectSocket, startGateway, TEST_JWT_SECRET, TestGateway } from './support/gateway';

/**
 * Browser and API tokens at the real gateway (in front of a real engine): `iss`, `aud`, `iat` and
 * `exp` are required, checked against the gateway's settings (here not the defaults, to show the
 * settings are what counts), no token may live longer than JWT_MAX_LIFETIME_SECONDS, and a
 * socket is closed when its token expires.
 */
describe('tokens: issuer, audience, lifetime, expiry of sockets', () => {
  const ISSUER = 'https://id.e2e.example';
  const AUDIENCE = 'billing-e2e-portal';
  const MAX_LIFETIME_SECONDS = 600;
  const org = 'tok-a';
  let engine: TestEngine;
  let gateway: TestGateway;
  let client: WalletClient;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    engine = await startEngine();
    gateway = await startGateway(engine.config.subjectPrefix, { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWT_MAX_LIFETIME_SECONDS: String(MAX_LIFETIME_SECONDS) });
    client = await WalletClient.connect(engine.config.subjectPrefix);
    await client.request(org, 'topup', { idempotencyKey: 't', amount: '10.00', currency: 'USD', provider: 'stripe', reference: 'pi_tok' });
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
  });

  /** Signs exactly these claims: one set to undefined is left out, `iat` too (jsonwebtoken adds one otherwise). */
  function sign(claims: Record<string, unknown>, secret = TEST_JWT_SECRET): string {
    return jwt.sign(JSON.parse(JSON.stringify(claims)), secret, { algorithm: 'HS256', noTimestamp: claims.iat === undefined });
  }

  async function wallet(token: string): Promise<{ status: number; body: any }> {
    const res = await fetch(`${gateway.url}/api/v1/wallet`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.json() };
  }

  it('accepts a token minted with every claim, over HTTP and on a socket', async () => {
    const token = gateway.token(org);
    expect(jwt.decode(token)).toMatchObject({ iss: ISSUER, aud: AUDIENCE, iat: expect.any(Number), exp: expect.any(Number), org });
    expect(await wallet(token)).toMatchObject({ status: 200, body: { ok: true, balance: { orgId: org } } });
    const socket = await connectSocket(gateway.url, token);
    sockets.push(socket);
    expect(socket.connected).toBe(true);
  });

  const now = Math.floor(Date.now() / 1000);
  const good = { org, iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300 };
  it.each([
    ['no iss', { ...good, iss: undefined }, /issuer invalid/],
    ['the default iss, which is not this gateway\'s setting', { ...good, iss: 'gpu-billing' }, /issuer invalid/],
    ['no aud', { ...good, aud: undefined }, /audience invalid/],
    ['another audience', { ...good, aud: 'gpu-billing-operators' }, /audience invalid/],
    ['no iat', { ...good, iat: undefined }, /no issue time \(iat\)/],
    ['iat an hour ahead', { ...good, iat: now + 3600, exp: now + 3900 }, /issued in the future/],
    ['a lifetime one second over the maximum', { ...good, iat: now - 1, exp: now - 1 + MAX_LIFETIME_SECONDS + 1 }, /lives longer than 600 s/],
    ['a lifetime of a year', { ...good, exp: now + 365 * 86_400 }, /lives longer than 600 s/],
  ])('refuses a token with %s: 401 over HTTP, connect_error on a socket', async (_label, claims, reason) => {
    const token = sign(claims);
    const res = await wallet(token);
    expect(res).toEqual({ status: 401, body: { ok: false, error: { code: 'UNAUTHENTICATED', message: expect.stringMatching(reason) } } });
    await expect(connectSocket(gateway.url, token)).rejects.toThrow(reason);
  });

  it('refuses a token with the right claims signed with another secret', async () => {
    const token = sign(good, 'another-secret-0123456789abcdef-xyz');
    expect((await wallet(token)).status).toBe(401);
    await expect(connectSocket(gateway.url, token)).rejects.toThrow(/invalid signature/);
  });

  it('disconnects a socket when its token expires, telling it why; a longer-lived socket of the same organization stays', async () => {
    const lasting = await connectSocket(gateway.url, gateway.token(org, 300));
    sockets.push(lasting);
    const token = gateway.token(org, 2);
    const { exp } = jwt.decode(token) as { exp: number };
    const socket = await connectSocket(gateway.url, token);
    sockets.push(socket);
    const told: unknown[] = [];
    socket.on('token_expired', (e) => told.push(e));
    const reason = await new Promise<string>((resolve) => socket.once('disconnect', resolve));
    const at = Date.now();
    expect(told).toEqual([{ code: 'TOKEN_EXPIRED', message: expect.any(String) }]);
    // The server closed it (the client does not reconnect by itself), at the token's expiry.
    expect(reason).toBe('io server disconnect');
    expect(at).toBeGreaterThanOrEqual(exp * 1000 - 100);
    expect(at).toBeLessThan(exp * 1000 + 3000);
    expect(lasting.connected).toBe(true);
    // The same token from then on: refused everywhere.
    expect(await wallet(token)).toMatchObject({ status: 401, body: { error: { message: expect.stringMatching(/expired/) } } });
    await expect(connectSocket(gateway.url, token)).rejects.toThrow(/expired/);
  });
});
