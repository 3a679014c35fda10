import { randomUUID } from 'crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import { WebhookDeliveryStatus } from './entities/webhook-delivery.entity';

/** Kept of a failed attempt's error: enough to diagnose, bounded whatever a receiver answers. */
export const MAX_DELIVERY_ERROR_CHARS = 1000;

/**
 * How a signing secret is stored: `sealed` by the alert service (the envelope and the id of the
 * key that sealed it), or `plain` on a row from before secrets were encrypted, until the alert
 * service seals it. This repository never encrypts or decrypts: the key is the alert service's.
 */
export type StoredSecret = { readonly kind: 'sealed'; readonly keyId: string; readonly sealed: string } | { readonly kind: 'plain'; readonly plain: string };

export interface WebhookEndpoint {
  readonly id: string;
  readonly orgId: string;
  readonly url: string;
  readonly secret: StoredSecret;
  readonly createdAt: Date;
}

/** A new or replaced endpoint's secret, already sealed. */
export interface SealedSecret {
  readonly keyId: string;
  readonly sealed: string;
}

/** How many endpoints' secrets each key sealed; `keyId` null: still in plain text. */
export interface SecretKeyUsage {
  readonly keyId: string | null;
  readonly endpoints: number;
}

export interface WebhookDeliveryState {
  readonly status: WebhookDeliveryStatus;
  readonly attempts: number;
  readonly firstAttemptAt: Date;
}

/** An endpoint an event is for, with what has happened to the event there so far (null: never tried). */
export interface WebhookTarget {
  readonly endpoint: WebhookEndpoint;
  readonly delivery: WebhookDeliveryState | null;
}

interface EndpointRecord {
  id: string;
  org_id: string;
  url: string;
  secret: string | null;
  secret_ciphertext: string | null;
  secret_key_id: string | null;
  created_at: Date | string;
}

// MikroORM's pg driver hands timestamps back as strings.
const date = (v: Date | string) => (v instanceof Date ? v : new Date(v));

function toEndpoint(r: EndpointRecord): WebhookEndpoint {
  // The table's check constraint guarantees exactly one form.
  const secret: StoredSecret = r.secret_ciphertext !== null ? { kind: 'sealed', keyId: r.secret_key_id!, sealed: r.secret_ciphertext } : { kind: 'plain', plain: r.secret! };
  return { id: r.id, orgId: r.org_id, url: r.url, secret, createdAt: date(r.created_at) };
}

const ENDPOINT_COLUMNS = 'id, org_id, url, secret, secret_ciphertext, secret_key_id, created_at';

/** Webhook endpoints of organizations and the delivery record of each (endpoint, event). */
export class WebhookRepository {
  constructor(private readonly orm: MikroORM) {}

  private get knex() {
    return this.orm.em.getConnection().getKnex();
  }

  async endpoints(orgId: string): Promise<WebhookEndpoint[]> {
    const rows = (await this.knex.raw(`select ${ENDPOINT_COLUMNS} from webhook_endpoints where org_id = ? order by created_at, url`, [orgId])).rows as EndpointRecord[];
    return rows.map(toEndpoint);
  }

  /**
   * Makes `endpoints` the organization's whole list. A URL already present keeps its id (and
   * so its delivery records) and takes the new secret; a URL left out is removed with its records.
   */
  async replaceEndpoints(orgId: string, endpoints: readonly { url: string; secret: SealedSecret }[]): Promise<WebhookEndpoint[]> {
    await this.knex.transaction(async (trx) => {
      // Two replacements of one organization's list at once would otherwise leave a mix of both.
      await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`webhook_endpoints:${orgId}`]);
      await trx.raw('delete from webhook_endpoints where org_id = ? and url not in (select jsonb_array_elements_text(?::jsonb))', [orgId, JSON.stringify(endpoints.map((e) => e.url))]);
      for (const e of endpoints) {
        await trx.raw(
          `insert into webhook_endpoints (id, org_id, url, secret, secret_ciphertext, secret_key_id, created_at) values (?, ?, ?, null, ?, ?, now())
           on conflict (org_id, url) do update set secret = null, secret_ciphertext = excluded.secret_ciphertext, secret_key_id = excluded.secret_key_id`,
          [randomUUID(), orgId, e.url, e.secret.sealed, e.secret.keyId],
        );
      }
    });
    return this.endpoints(orgId);
  }

  /** The organization's endpoints, each with its record for this event, in one round trip. */
  async targets(orgId: string, eventId: string): Promise<WebhookTarget[]> {
    const rows = (
      await this.knex.raw(
        `select e.id, e.org_id, e.url, e.secret, e.secret_ciphertext, e.secret_key_id, e.created_at, d.status, d.attempts, d.first_attempt_at
         from webhook_endpoints e left join webhook_deliveries d on d.endpoint_id = e.id and d.event_id = ?
         where e.org_id = ? order by e.created_at, e.url`,
        [eventId, orgId],
      )
    ).rows as (EndpointRecord & { status: WebhookDeliveryStatus | null; attempts: number | null; first_attempt_at: Date | string | null })[];
    return rows.map((r) => ({
      endpoint: toEndpoint(r),
      delivery: r.status === null ? null : { status: r.status, attempts: Number(r.attempts), firstAttemptAt: date(r.first_attempt_at!) },
    }));
  }

  /** Records the success of an attempt; nothing happens if the endpoint was removed meanwhile. */
  async recordDelivered(endpointId: string, eventId: string): Promise<void> {
    await this.knex.raw(
      `insert into webhook_deliveries (endpoint_id, event_id, status, attempts, last_error, first_attempt_at, delivered_at, updated_at)
       select e.id, ?, 'delivered', 1, null, now(), now(), now() from webhook_endpoints e where e.id = ?
       on conflict (endpoint_id, event_id) do update set status = 'delivered', attempts = webhook_deliveries.attempts + 1,
         delivered_at = coalesce(webhook_deliveries.delivered_at, now()), updated_at = now()`,
      [eventId, endpointId],
    );
  }

  /**
   * Records a failed attempt and returns the count so far and when the first was made; null if
   * there is nothing to retry (the event was delivered there meanwhile, or the endpoint removed).
   */
  async recordFailure(endpointId: string, eventId: string, error: string): Promise<{ attempts: number; firstAttemptAt: Date } | null> {
    const rows = (
      await this.knex.raw(
        `insert into webhook_deliveries (endpoint_id, event_id, status, attempts, last_error, first_attempt_at, delivered_at, updated_at)
         select e.id, ?, 'failed', 1, ?, now(), null, now() from webhook_endpoints e where e.id = ?
         on conflict (endpoint_id, event_id) do update set attempts = webhook_deliveries.attempts + 1, last_error = excluded.last_error, updated_at = now()
           where webhook_deliveries.status <> 'delivered'
         returning attempts, first_attempt_at`,
        [eventId, error.slice(0, MAX_DELIVERY_ERROR_CHARS), endpointId],
      )
    ).rows as { attempts: number; first_attempt_at: Date | string }[];
    return rows.length ? { attempts: Number(rows[0].attempts), firstAttemptAt: date(rows[0].first_attempt_at) } : null;
  }

  /** Endpoints per key that sealed their secret (null: plain text), to check at start that every key in use is configured. */
  async secretKeyUsage(): Promise<SecretKeyUsage[]> {
    const rows = (await this.knex.raw('select secret_key_id, count(*)::int as n from webhook_endpoints group by secret_key_id order by secret_key_id nulls first')).rows as { secret_key_id: string | null; n: number }[];
    return rows.map((r) => ({ keyId: r.secret_key_id, endpoints: Number(r.n) }));
  }

  /**
   * A page of endpoints, by id after `afterId`, whose secret is not sealed with `keyId`: those
   * still in plain text, and those sealed with another key (for re-encryption after a rotation).
   */
  async endpointsNotSealedWith(keyId: string, afterId: string | null, limit: number): Promise<WebhookEndpoint[]> {
    const rows = (
      await this.knex.raw(
        `select ${ENDPOINT_COLUMNS} from webhook_endpoints where secret_key_id is distinct from ? and id > coalesce(?::uuid, '00000000-0000-0000-0000-000000000000'::uuid) order by id limit ?`,
        [keyId, afterId, limit],
      )
    ).rows as EndpointRecord[];
    return rows.map(toEndpoint);
  }

  /**
   * Replaces an endpoint's secret by `next` only if it is still stored as `current`: a process
   * that sealed it meanwhile, or an organization that set a new secret, wins. True if replaced.
   */
  async resealSecret(endpointId: string, current: StoredSecret, next: SealedSecret): Promise<boolean> {
    const [column, value] = current.kind === 'plain' ? ['secret', current.plain] : ['secret_ciphertext', current.sealed];
    const result = await this.knex.raw(`update webhook_endpoints set secret = null, secret_ciphertext = ?, secret_key_id = ? where id = ? and ${column} = ?`, [next.sealed, next.keyId, endpointId, value]);
    return Number(result.rowCount) === 1;
  }
}
