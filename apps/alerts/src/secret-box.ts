import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'crypto';

/**
 * Encryption at rest of the webhook signing secrets. The alert service must read a secret back to
 * sign with it, so it is encrypted, not hashed: AES-256-GCM, a random 96-bit nonce per value, the
 * 128-bit tag, and the id of the key that sealed it, all in one string:
 *
 *   v1.<key id>.<nonce, base64url>.<ciphertext and tag, base64url>
 *
 * The key id lets keys rotate: the box holds every key that may still open a value, and seals new
 * values with the active one. A context (here: the organization and URL of the endpoint) is bound
 * as additional authenticated data, so a sealed value copied onto another row does not open.
 */
export const SEALED_VERSION = 'v1';
export const SECRET_KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Key ids: short, and free of the envelope's separator. */
export const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

const B64URL = /^[A-Za-z0-9_-]+$/;
const AAD_LABEL = 'billing-alerts/secret/v1\0';

export interface SecretKey {
  readonly id: string;
  readonly key: Buffer;
}

/** A value as stored: the envelope, and the id of the key that sealed it (also inside the envelope). */
export interface Sealed {
  readonly keyId: string;
  readonly sealed: string;
}

/** A sealed value that cannot be opened: unknown key, another key under the same id, tampering, wrong context. Never carries key or plaintext. */
export class SecretBoxError extends Error {}

/** The id a key gets when none is given: a fingerprint, so that two different keys never share an id. */
export function keyFingerprint(key: Buffer): string {
  return `k${createHash('sha256').update('billing-alerts secret key id\0').update(key).digest('hex').slice(0, 10)}`;
}

/**
 * Reads one key as configured: `<id>:<key>` or a bare `<key>` (its id is then its fingerprint);
 * the key is 32 bytes in base64, base64url or hex (`openssl rand -base64 32`). `source` names
 * the setting in errors; the key itself never appears in one.
 */
export function parseSecretKey(entry: string, source: string): SecretKey {
  const text = entry.trim();
  const colon = text.indexOf(':');
  const id = colon >= 0 ? text.slice(0, colon) : null;
  const material = colon >= 0 ? text.slice(colon + 1) : text;
  if (id !== null && !KEY_ID.test(id)) throw new Error(`${source}: key id '${id}' must be 1-32 letters, digits, '_' or '-'`);
  const key = decodeKey(material);
  if (!key) throw new Error(`${source}: a key must be ${SECRET_KEY_BYTES} bytes in base64 or hex (generate one with: openssl rand -base64 32)${id ? ` (key '${id}')` : ''}`);
  return { id: id ?? keyFingerprint(key), key };
}

function decodeKey(text: string): Buffer | null {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return null;
  const key = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return key.length === SECRET_KEY_BYTES ? key : null;
}

/** Seals and opens secrets with a set of keys, one of them active. */
export class SecretBox {
  private readonly keys: ReadonlyMap<string, Buffer>;

  constructor(keys: readonly SecretKey[], readonly activeKeyId: string) {
    const map = new Map<string, Buffer>();
    for (const k of keys) {
      if (!KEY_ID.test(k.id)) throw new Error(`key id '${k.id}' must be 1-32 letters, digits, '_' or '-'`);
      if (k.key.length !== SECRET_KEY_BYTES) throw new Error(`key '${k.id}' must be ${SECRET_KEY_BYTES} bytes`);
      const same = map.get(k.id);
      if (same && !timingSafeEqual(same, k.key)) throw new Error(`two different keys have the id '${k.id}'`);
      map.set(k.id, k.key);
    }
    if (!map.has(activeKeyId)) throw new Error(`the active key id '${activeKeyId}' is not among the keys (${[...map.keys()].join(', ')})`);
    this.keys = map;
  }

  /** The ids of every key this box can open with. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  hasKey(id: string): boolean {
    return this.keys.has(id);
  }

  /** Seals `plaintext` with the active key and a fresh random nonce; `context` must be given again to open it. */
  seal(plaintext: string, context: string): Sealed {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.activeKeyId)!, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(this.activeKeyId, context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return { keyId: this.activeKeyId, sealed: `${SEALED_VERSION}.${this.activeKeyId}.${nonce.toString('base64url')}.${body.toString('base64url')}` };
  }

  /** The plaintext of a sealed value; throws SecretBoxError if it cannot be opened here. */
  open(sealed: string, context: string): string {
    const { keyId, nonce, body } = readEnvelope(sealed);
    const key = this.keys.get(keyId);
    if (!key) throw new SecretBoxError(`sealed with key '${keyId}', which is not configured (keys: ${this.keyIds.join(', ')})`);
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(keyId, context));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError(`does not open with key '${keyId}': another key under that id, or the value was altered or moved`);
    }
  }
}

/** The key id of a sealed value, without opening it; throws SecretBoxError if it is not an envelope. */
export function sealedKeyId(sealed: string): string {
  return readEnvelope(sealed).keyId;
}

function readEnvelope(sealed: string): { keyId: string; nonce: Buffer; body: Buffer } {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== SEALED_VERSION || !KEY_ID.test(parts[1]) || !B64URL.test(parts[2]) || !B64URL.test(parts[3])) {
    throw new SecretBoxError(`not a ${SEALED_VERSION} sealed value`);
  }
  const nonce = Buffer.from(parts[2], 'base64url');
  const body = Buffer.from(parts[3], 'base64url');
  if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) throw new SecretBoxError(`not a ${SEALED_VERSION} sealed value`);
  return { keyId: parts[1], nonce, body };
}

function aad(keyId: string, context: string): Buffer {
  // The key id is authenticated too: an envelope relabelled with another id does not open.
  return Buffer.from(`${AAD_LABEL}${keyId}\0${context}`, 'utf8');
}
