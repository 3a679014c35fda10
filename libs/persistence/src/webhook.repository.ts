import { randomUUID } from 'crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import { WebhookDeliveryStatus } from './entities/webhook-delivery.entity';

/** Kept of a failed attempt's error: enough to diagnose, bounded whatever a receiver answers. */
export const MAX_DELIVERY_ERROR_CHARS = 1000;

export interface WebhookEndpoint {
  readonly id: string;
  readonly orgId: string;
  readonly url: string;
  readonly secret: string;
  readonly createdAt: Date;
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
  secret: string;
  created_at: Date | string;
}

// MikroORM's pg driver hands timestamps back as strings.
const date = (v: Date | string) => (v instanceof Date ? v : new Date(v));

function toEndpoint(r: EndpointRecord): WebhookEndpoint {
  return { id: r.id, orgId: r.org_id, url: r.url, secret: r.secret, createdAt: date(r.created_at) };
}

/** Webhook endpoints of organizations and the delivery record of each (endpoint, event). */
export class WebhookRepository {
  constructor(private readonly orm: MikroORM) {}

  private get knex() {
    return this.orm.em.getConnection().getKnex();
  }

  async endpoints(orgId: string): Promise<WebhookEndpoint[]> {
    const rows = (await this.knex.raw('select * from webhook_endpoints where org_id = ? order by created_at, url', [orgId])).rows as EndpointRecord[];
    return rows.map(toEndpoint);
  }

  /**
   * Makes `endpoints` the organization's whole list. A URL already present keeps its id (and
   * so its delivery records) and takes the new secret; a URL left out is removed with its records.
   */
  async replaceEndpoints(orgId: string, endpoints: readonly { url: string; secret: string }[]): Promise<WebhookEndpoint[]> {
    await this.knex.transaction(async (trx) => {
      // Two replacements of one organization's list at once would otherwise leave a mix of both.
      await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`webhook_endpoints:${orgId}`]);
      await trx.raw('delete from webhook_endpoints where org_id = ? and url not in (select jsonb_array_elements_text(?::jsonb))', [orgId, JSON.stringify(endpoints.map((e) => e.url))]);
      for (const e of endpoints) {
        await trx.raw(
          `insert into webhook_endpoints (id, org_id, url, secret, created_at) values (?, ?, ?, ?, now())
           on conflict (org_id, url) do update set secret = excluded.secret`,
          [randomUUID(), orgId, e.url, e.secret],
        );
      }
    });
    return this.endpoints(orgId);
  }

  /** The organization's endpoints, each with its record for this event, in one round trip. */
  async targets(orgId: string, eventId: string): Promise<WebhookTarget[]> {
    const rows = (
      await this.knex.raw(
        `select e.*, d.status, d.attempts, d.first_attempt_at
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
}
