import { SealedSecret, StoredSecret, WebhookEndpoint, WebhookRepository } from '@billing/persistence';
import { SecretBox } from './secret-box';

/** Endpoints sealed or re-sealed per database round trip. */
export const RESEAL_PAGE_SIZE = 100;

/**
 * What a sealed secret is bound to: the organization and the URL of its endpoint (a row's unique
 * key), so a ciphertext copied onto another organization's or URL's row does not open.
 */
export function secretContext(orgId: string, url: string): string {
  return `webhook_endpoints\0${orgId}\0${url}`;
}

export interface ResealReport {
  /** Secrets sealed with the active key by this run (from plain text or another key). */
  readonly resealed: number;
  /** Secrets this run could not open: the key that sealed them is missing or wrong. */
  readonly unreadable: number;
  /** Endpoints per key after the run (null: plain text). */
  readonly byKey: Record<string, number>;
}

export interface SecretsLog {
  log(message: object): void;
  warn(message: object): void;
}

/**
 * The webhook signing secrets as the alert service handles them: sealed before they are stored,
 * opened only to sign. The database holds ciphertext; the keys come from the environment.
 */
export class WebhookSecrets {
  constructor(private readonly box: SecretBox, private readonly webhooks: WebhookRepository) {}

  get activeKeyId(): string {
    return this.box.activeKeyId;
  }

  seal(orgId: string, url: string, plaintext: string): SealedSecret {
    return this.box.seal(plaintext, secretContext(orgId, url));
  }

  /** The secret to sign with; throws SecretBoxError if it cannot be opened with the configured keys. */
  open(endpoint: Pick<WebhookEndpoint, 'orgId' | 'url'> & { readonly secret: StoredSecret }): string {
    if (endpoint.secret.kind === 'plain') return endpoint.secret.plain;
    return this.box.open(endpoint.secret.sealed, secretContext(endpoint.orgId, endpoint.url));
  }

  /**
   * At start, before any delivery: refuses to go on if secrets are sealed with a key the service
   * does not have (every delivery to those endpoints would fail until the key is back), then seals
   * the secrets still in plain text (rows from before encryption) with the active key.
   */
  async prepare(log: SecretsLog): Promise<void> {
    const usage = await this.webhooks.secretKeyUsage();
    const missing = usage.filter((u) => u.keyId !== null && !this.box.hasKey(u.keyId));
    if (missing.length > 0) {
      const list = missing.map((u) => `'${u.keyId}' (${u.endpoints} endpoint${u.endpoints === 1 ? '' : 's'})`).join(', ');
      throw new Error(`webhook secrets are sealed with key(s) ${list} that ALERTS_SECRET_KEY(S) does not hold; configure them again (docs/alerts.md, "Rotating the key")`);
    }
    if (usage.some((u) => u.keyId === null)) {
      const report = await this.reseal({ plainOnly: true });
      log.log({ msg: 'webhook secrets stored in plain text are now encrypted', endpoints: report.resealed, keyId: this.box.activeKeyId });
      if (report.unreadable > 0) log.warn({ msg: 'some plain-text webhook secrets could not be encrypted', endpoints: report.unreadable });
    }
    const byKey = Object.fromEntries((await this.webhooks.secretKeyUsage()).map((u) => [u.keyId ?? '(plain)', u.endpoints]));
    const old = Object.keys(byKey).filter((k) => k !== this.box.activeKeyId);
    if (old.length > 0) log.warn({ msg: 'webhook secrets are still sealed with keys other than the active one; re-encrypt before removing them (docs/alerts.md, "Rotating the key")', byKey, activeKeyId: this.box.activeKeyId });
    else log.log({ msg: 'webhook secrets are encrypted at rest', byKey, activeKeyId: this.box.activeKeyId });
  }

  /**
   * Seals with the active key every secret that is not: in plain text and, unless `plainOnly`,
   * sealed with an older key (the re-encryption step of a key rotation). Safe to run while the
   * service runs and from several processes: each row is replaced only if it did not change meanwhile.
   */
  async reseal(options: { plainOnly?: boolean } = {}): Promise<ResealReport> {
    let resealed = 0;
    let unreadable = 0;
    let after: string | null = null;
    for (;;) {
      const page = await this.webhooks.endpointsNotSealedWith(this.box.activeKeyId, after, RESEAL_PAGE_SIZE);
      if (page.length === 0) break;
      after = page[page.length - 1].id;
      for (const endpoint of page) {
        if (options.plainOnly && endpoint.secret.kind !== 'plain') continue;
        let plaintext: string;
        try {
          plaintext = this.open(endpoint);
        } catch {
          unreadable++;
          continue;
        }
        if (await this.webhooks.resealSecret(endpoint.id, endpoint.secret, this.seal(endpoint.orgId, endpoint.url, plaintext))) resealed++;
      }
    }
    const byKey = Object.fromEntries((await this.webhooks.secretKeyUsage()).map((u) => [u.keyId ?? '(plain)', u.endpoints]));
    return { resealed, unreadable, byKey };
  }
}
