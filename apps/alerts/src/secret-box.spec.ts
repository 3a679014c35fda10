import { randomBytes } from 'crypto';
import { keyFingerprint, parseSecretKey, SecretBox, SecretBoxError, sealedKeyId } from './secret-box';

describe('secret box (AES-256-GCM at rest)', () => {
  const k1 = { id: 'k1', key: randomBytes(32) };
  const k2 = { id: 'k2', key: randomBytes(32) };
  const context = 'webhook_endpoints\0org-1\0https://hooks.example.com/a';
  const plaintext = 'whsec_0123456789abcdef';

  it('opens what it sealed, and the sealed form shows neither the plaintext nor the key', () => {
    const box = new SecretBox([k1], 'k1');
    const { keyId, sealed } = box.seal(plaintext, context);
    expect(keyId).toBe('k1');
    expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(plaintext);
    expect(sealed).not.toContain(Buffer.from(plaintext).toString('base64url'));
    expect(sealed).not.toContain(k1.key.toString('base64url'));
    expect(sealedKeyId(sealed)).toBe('k1');
    expect(box.open(sealed, context)).toBe(plaintext);
  });

  it('uses a fresh nonce for every value, so one secret sealed twice looks different', () => {
    const box = new SecretBox([k1], 'k1');
    const sealed = new Set(Array.from({ length: 50 }, () => box.seal(plaintext, context).sealed));
    expect(sealed.size).toBe(50);
    const nonces = new Set([...sealed].map((s) => s.split('.')[2]));
    expect(nonces.size).toBe(50);
  });

  it('refuses a value altered in any byte, moved to another row, or relabelled with another key id', () => {
    const box = new SecretBox([k1, k2], 'k1');
    const { sealed } = box.seal(plaintext, context);
    const [v, id, nonce, body] = sealed.split('.');
    const bytes = Buffer.from(body, 'base64url');
    for (let i = 0; i < bytes.length; i++) {
      const flipped = Buffer.from(bytes);
      flipped[i] ^= 0x01;
      expect(() => box.open([v, id, nonce, flipped.toString('base64url')].join('.'), context)).toThrow(SecretBoxError);
    }
    const otherNonce = Buffer.from(nonce, 'base64url');
    otherNonce[0] ^= 0x80;
    expect(() => box.open([v, id, otherNonce.toString('base64url'), body].join('.'), context)).toThrow(SecretBoxError);
    expect(() => box.open(sealed, 'webhook_endpoints\0org-2\0https://hooks.example.com/a')).toThrow(/altered or moved/);
    expect(() => box.open(['v1', 'k2', nonce, body].join('.'), context)).toThrow(SecretBoxError);
    for (const junk of ['', 'plain-secret-0123456789', 'v2.k1.a.b', 'v1.k1.short.x', `v1.k 1.${nonce}.${body}`]) expect(() => box.open(junk, context)).toThrow(SecretBoxError);
  });

  it('rotates: new values take the active key, values sealed with an old key still open, a missing key is named', () => {
    const before = new SecretBox([k1], 'k1').seal(plaintext, context).sealed;
    const rotated = new SecretBox([k2, k1], 'k2');
    expect(rotated.open(before, context)).toBe(plaintext);
    const after = rotated.seal(plaintext, context).sealed;
    expect(sealedKeyId(after)).toBe('k2');
    expect(() => new SecretBox([k1], 'k1').open(after, context)).toThrow(/key 'k2', which is not configured/);
    // Another key under the same id: refused, not garbage.
    expect(() => new SecretBox([{ id: 'k1', key: randomBytes(32) }], 'k1').open(before, context)).toThrow(/another key under that id/);
  });

  it('refuses a set of keys it could confuse', () => {
    expect(() => new SecretBox([k1], 'k2')).toThrow(/active key id 'k2'/);
    expect(() => new SecretBox([k1, { id: 'k1', key: randomBytes(32) }], 'k1')).toThrow(/two different keys/);
    expect(() => new SecretBox([{ id: 'k1', key: randomBytes(16) }], 'k1')).toThrow(/32 bytes/);
    expect(() => new SecretBox([{ id: 'k.1', key: randomBytes(32) }], 'k.1')).toThrow(/key id/);
  });

  it('reads keys in base64, base64url or hex, with an id or with its fingerprint as id, and never echoes one', () => {
    const key = randomBytes(32);
    expect(parseSecretKey(key.toString('base64'), 'X')).toEqual({ id: keyFingerprint(key), key });
    expect(parseSecretKey(key.toString('base64url'), 'X').key).toEqual(key);
    expect(parseSecretKey(`main:${key.toString('hex')}`, 'X')).toEqual({ id: 'main', key });
    expect(keyFingerprint(key)).toMatch(/^k[0-9a-f]{10}$/);
    expect(keyFingerprint(key)).not.toBe(keyFingerprint(randomBytes(32)));
    const short = randomBytes(16).toString('base64');
    expect(() => parseSecretKey(short, 'ALERTS_SECRET_KEY')).toThrow(/^ALERTS_SECRET_KEY: a key must be 32 bytes/);
    let message = '';
    try {
      parseSecretKey(`main:${short}`, 'ALERTS_SECRET_KEYS');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^ALERTS_SECRET_KEYS: a key must be 32 bytes .* \(key 'main'\)$/);
    expect(message).not.toContain(short);
    expect(() => parseSecretKey(`bad id:${key.toString('base64')}`, 'X')).toThrow(/key id/);
    expect(() => parseSecretKey('not a key at all', 'X')).toThrow(/32 bytes/);
  });
});
