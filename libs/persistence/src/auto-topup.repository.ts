import { Knex } from '@mikro-orm/postgresql';
import { AutoTopupCaps, AutoTopupSize, AutoTopupTrigger, autoTopupKey, autoTopupPeriods, autoTopupSize, BalancePoint, Currency, Decimal, isBelowTrigger, leftInDailyLimit } from '@billing/domain';
import { SqlRepository } from './sql-repository';
import { AttemptRecord, SettingsRecord, toAttempt, toSettings } from './auto-topup-rows';
import { truncateReason } from './topup-intent-row';

/** An organization's auto top-up settings, with the saved payment method and the consent recorded for it. */
export interface AutoTopupSettings {
  readonly orgId: string;
  readonly enabled: boolean;
  readonly trigger: AutoTopupTrigger;
  readonly target: Decimal;
  readonly currency: Currency;
  readonly caps: AutoTopupCaps;
  readonly stripeCustomer: string;
  readonly stripePaymentMethod: string;
  readonly consentAt: Date;
  readonly consentBy: string;
  /** True while the balance is at or above the trigger (or since the settings were saved): the next fall below is a crossing. */
  readonly armed: boolean;
  /** The newest balance seq looked at: an older one (late, redelivered) changes nothing. */
  readonly lastSeq: number;
  readonly disabledReason: string | null;
  readonly disabledAt: Date | null;
  readonly updatedAt: Date;
}

export type NewAutoTopupSettings = Pick<AutoTopupSettings, 'orgId' | 'trigger' | 'target' | 'currency' | 'caps' | 'stripeCustomer' | 'stripePaymentMethod' | 'consentAt' | 'consentBy'>;

export type AutoTopupAttemptStatus = 'charging' | 'submitted' | 'failed' | 'skipped';

export interface AutoTopupAttempt {
  /** Also the id of the top-up intent it made (none when skipped). */
  readonly id: string;
  readonly orgId: string;
  readonly crossingSeq: number;
  readonly idempotencyKey: string;
  readonly amount: Decimal | null;
  readonly currency: Currency;
  readonly status: AutoTopupAttemptStatus;
  readonly reason: string | null;
  readonly paymentIntentId: string | null;
  readonly alertEventId: string | null;
  readonly alertPublishedAt: Date | null;
  readonly createdAt: Date;
  /** The top-up intent's settlement status (pending, succeeded, failed, ...), when there is one. */
  readonly topupStatus: string | null;
  /** Why the top-up failed, when it did (a bank debit refused after it was submitted, say). */
  readonly topupFailureReason: string | null;
  readonly creditedAt: Date | null;
}

/** What a balance change decided, under the organization's settings row lock. */
export type CrossingDecision =
  | { readonly kind: 'none' }
  /** A crossing that charges nothing: a top-up still in flight, a cap reached, the target reached. */
  | { readonly kind: 'skipped'; readonly attempt: AutoTopupAttempt }
  /** A crossing that charges `attempt.amount`: its top-up intent is recorded pending, the charge is the caller's. */
  | { readonly kind: 'charge'; readonly attempt: AutoTopupAttempt; readonly settings: AutoTopupSettings };

/** The gateway's own per-top-up and 24-hour limits of the currency, which an auto top-up is held to as well. */
export interface GatewayTopupLimit {
  readonly min: Decimal;
  readonly max: Decimal;
  readonly dailyMax: Decimal;
  readonly dailyWindowMs: number;
  /** How long the payer has (Stripe's payment window): the top-up intent's expiry. */
  readonly paymentWindowMs: number;
}

/** How long a submitted attempt is watched for its top-up failing later (Stripe's bank debits settle within days). */
export const SUBMITTED_WATCH_DAYS = 14;

/** Attempts that hold money (asked for, or charged): skipped ones hold none, nor those whose charge failed or whose top-up failed or expired. */
const HOLDS_MONEY = `a.status in ('charging', 'submitted') and coalesce(t.status, 'pending') not in ('failed', 'expired')`;

/**
 * Auto top-up: the settings and one attempt per crossing. A balance change is decided in one
 * transaction holding the organization's settings row (`select ... for update`), so however many
 * gateway processes and redeliveries look at the same change, or at changes at once, they take
 * turns: the first below the trigger while armed disarms and records the attempt (unique per
 * organization and crossing seq), the caps are summed and the attempt inserted under the same
 * lock, and no one else sees a crossing until the balance is at or above the trigger again.
 */
export class AutoTopupRepository extends SqlRepository {
  /** Saves (and turns on) the settings; armed, so a balance already below the trigger is a crossing at its next change. */
  async save(s: NewAutoTopupSettings): Promise<AutoTopupSettings> {
    const rows = (
      await this.knex.raw(
        `insert into auto_topup_settings (org_id, enabled, trigger_kind, trigger_amount, trigger_runway_seconds, target, currency, max_per_topup, max_per_day, max_per_month, stripe_customer, stripe_payment_method, consent_at, consent_by, armed, disabled_reason, disabled_at, updated_at)
         values (?, true, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, true, null, null, now())
         on conflict (org_id) do update set enabled = true, trigger_kind = excluded.trigger_kind, trigger_amount = excluded.trigger_amount, trigger_runway_seconds = excluded.trigger_runway_seconds,
           target = excluded.target, currency = excluded.currency, max_per_topup = excluded.max_per_topup, max_per_day = excluded.max_per_day, max_per_month = excluded.max_per_month,
           stripe_customer = excluded.stripe_customer, stripe_payment_method = excluded.stripe_payment_method, consent_at = excluded.consent_at, consent_by = excluded.consent_by,
           armed = true, disabled_reason = null, disabled_at = null, updated_at = now()
         returning *`,
        [
          s.orgId,
          s.trigger.kind,
          s.trigger.kind === 'amount' ? s.trigger.amount.toFixed() : null,
          s.trigger.kind === 'runway' ? s.trigger.seconds : null,
          s.target.toFixed(),
          s.currency,
          s.caps.maxPerTopup.toFixed(),
          s.caps.maxPerDay.toFixed(),
          s.caps.maxPerMonth.toFixed(),
          s.stripeCustomer,
          s.stripePaymentMethod,
          s.consentAt,
          s.consentBy,
        ],
      )
    ).rows as SettingsRecord[];
    return toSettings(rows[0]);
  }

  async find(orgId: string): Promise<AutoTopupSettings | null> {
    const rows = (await this.knex.raw('select * from auto_topup_settings where org_id = ?', [orgId])).rows as SettingsRecord[];
    return rows.length ? toSettings(rows[0]) : null;
  }

  /**
   * The organization's Stripe customer: the one the gateway created for it (`stripe_customers`),
   * else the one its saved settings name (checked as the organization's when saved); null: none yet.
   */
  async stripeCustomer(orgId: string): Promise<string | null> {
    const rows = (
      await this.knex.raw(
        `select coalesce((select customer_id from stripe_customers where org_id = ?), (select stripe_customer from auto_topup_settings where org_id = ?)) as customer`,
        [orgId, orgId],
      )
    ).rows as { customer: string | null }[];
    return rows[0]?.customer ?? null;
  }

  /**
   * Remembers the customer created for the organization and returns the one remembered: the
   * first one wins (two setups at once keep one), unless `replacing` names the one remembered
   * (deleted at Stripe, say), which it then replaces.
   */
  async rememberStripeCustomer(orgId: string, customerId: string, replacing: string | null): Promise<string> {
    const rows = (
      await this.knex.raw(
        `insert into stripe_customers (org_id, customer_id) values (?, ?)
         on conflict (org_id) do update set customer_id = excluded.customer_id, updated_at = now() where stripe_customers.customer_id = ?
         returning customer_id`,
        [orgId, customerId, replacing],
      )
    ).rows as { customer_id: string }[];
    if (rows.length) return rows[0].customer_id;
    const kept = (await this.knex.raw('select customer_id from stripe_customers where org_id = ?', [orgId])).rows as { customer_id: string }[];
    return kept[0].customer_id;
  }

  /** Turns auto top-up off with the reason; false if it was not on. */
  async disable(orgId: string, reason: string, knex: Knex | Knex.Transaction = this.knex): Promise<boolean> {
    const rows = (await knex.raw('update auto_topup_settings set enabled = false, disabled_reason = ?, disabled_at = now(), updated_at = now() where org_id = ? and enabled returning org_id', [truncateReason(reason), orgId])).rows;
    return rows.length > 0;
  }

  /** The organizations with auto top-up on, and their triggers: what the gateway looks at balance changes for. */
  async enabled(): Promise<Map<string, AutoTopupTrigger>> {
    const rows = (await this.knex.raw('select * from auto_topup_settings where enabled')).rows as SettingsRecord[];
    return new Map(rows.map((r) => [r.org_id, toSettings(r).trigger]));
  }

  /** The newest attempts first, with what became of their top-ups. */
  async history(orgId: string, limit: number): Promise<AutoTopupAttempt[]> {
    const rows = (
      await this.knex.raw(`select a.*, t.status as topup_status, t.failure_reason as topup_failure_reason, t.credited_at from auto_topup_attempts a left join topup_intents t on t.id = a.id where a.org_id = ? order by a.created_at desc, a.crossing_seq desc limit ?`, [orgId, limit])
    ).rows as AttemptRecord[];
    return rows.map(toAttempt);
  }

  /**
   * Looks at one balance change of an organization (its seq and where it stands) and decides, in
   * one transaction under the settings row's lock: re-arm (at or above the trigger), nothing
   * (older than one already seen, not armed, auto top-up off), or a crossing, recorded as an
   * attempt keyed `autotopup:<orgId>:<seq>`: skipped (a top-up in flight, a cap) or charged,
   * sized by `autoTopupSize` from the caps left today and this month, then the gateway's own
   * limits; a charged one also records its top-up intent (pending, provider `stripe`, its
   * reference `autotopup:<id>` until the PaymentIntent's id is known), so a webhook or the
   * gateway's 24-hour limit sees it from the start.
   */
  async decide(orgId: string, seq: number, point: BalancePoint, now: Date, limit: GatewayTopupLimit, newId: () => string): Promise<CrossingDecision> {
    return this.knex.transaction(async (trx) => {
      const rows = (await trx.raw('select * from auto_topup_settings where org_id = ? for update', [orgId])).rows as SettingsRecord[];
      if (!rows.length) return { kind: 'none' };
      const settings = toSettings(rows[0]);
      // An older change than one looked at already changes nothing (the same one again may: the settings were saved since).
      if (!settings.enabled || seq < settings.lastSeq) return { kind: 'none' };
      const below = isBelowTrigger(settings.trigger, point);
      if (!below || !settings.armed) {
        await trx.raw('update auto_topup_settings set last_seq = ?, armed = ? where org_id = ?', [seq, !below, orgId]);
        return { kind: 'none' };
      }
      // A crossing: disarmed until the balance is at or above the trigger again.
      await trx.raw('update auto_topup_settings set last_seq = ?, armed = false where org_id = ?', [seq, orgId]);
      const id = newId();
      const key = autoTopupKey(orgId, seq);
      const insert = async (status: AutoTopupAttemptStatus, amount: Decimal | null, reason: string | null) =>
        toAttempt(
          (
            await trx.raw(`insert into auto_topup_attempts (id, org_id, crossing_seq, idempotency_key, amount, currency, status, reason, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning *`, [
              id, orgId, seq, key, amount === null ? null : amount.toFixed(), settings.currency, status, reason, now, now,
            ])
          ).rows[0] as AttemptRecord,
        );
      // One attempt per crossing, ever: the settings saved again at the seq of a crossing already decided make no second one.
      const decided = (await trx.raw('select 1 from auto_topup_attempts where org_id = ? and crossing_seq = ?', [orgId, seq])).rows;
      if (decided.length) return { kind: 'none' };
      const inFlight = (await trx.raw(`select a.id from auto_topup_attempts a left join topup_intents t on t.id = a.id where a.org_id = ? and (a.status = 'charging' or (a.status = 'submitted' and t.status = 'pending')) limit 1`, [orgId])).rows;
      if (inFlight.length) return { kind: 'skipped', attempt: await insert('skipped', null, 'in_flight') };
      const { dayStart, monthStart } = autoTopupPeriods(now);
      const sums = (
        await trx.raw(
          `select coalesce(sum(a.amount) filter (where a.created_at >= ?), 0)::text as today, coalesce(sum(a.amount), 0)::text as month
           from auto_topup_attempts a left join topup_intents t on t.id = a.id where a.org_id = ? and a.currency = ? and a.created_at >= ? and ${HOLDS_MONEY}`,
          [dayStart, orgId, settings.currency, monthStart],
        )
      ).rows[0] as { today: string; month: string };
      // The gateway's own 24-hour limit holds every top-up, auto or not: under its lock, as a start's.
      await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`topup-daily:${orgId}:${settings.currency}`]);
      const started = (await trx.raw(`select coalesce(sum(amount), 0)::text as total from topup_intents where org_id = ? and currency = ? and created_at > ? and status not in ('failed', 'expired')`, [orgId, settings.currency, new Date(now.getTime() - limit.dailyWindowMs)])).rows[0] as { total: string };
      const gatewayLeft = Decimal.min(limit.max, leftInDailyLimit(new Decimal(started.total), limit.dailyMax));
      const size: AutoTopupSize = autoTopupSize({
        target: settings.target,
        exactTotal: point.exactTotal,
        currency: settings.currency,
        caps: { ...settings.caps, maxPerTopup: Decimal.min(settings.caps.maxPerTopup, gatewayLeft) },
        chargedToday: new Decimal(sums.today),
        chargedThisMonth: new Decimal(sums.month),
        minimum: limit.min,
      });
      if (size.kind === 'skip') return { kind: 'skipped', attempt: await insert('skipped', null, size.reason) };
      const attempt = await insert('charging', size.amount, null);
      await trx.raw(
        `insert into topup_intents (id, org_id, amount, currency, provider, provider_ref, status, created_at, updated_at, expires_at) values (?, ?, ?, ?, 'stripe', ?, 'pending', ?, now(), ?)`,
        [id, orgId, size.amount.toFixed(), settings.currency, `autotopup:${id}`, now, new Date(now.getTime() + limit.paymentWindowMs)],
      );
      return { kind: 'charge', attempt, settings };
    });
  }

  /** The charge was taken by Stripe (succeeded or processing): the attempt and its top-up intent name the PaymentIntent. */
  async markSubmitted(id: string, paymentIntentId: string): Promise<void> {
    await this.knex.transaction(async (trx) => {
      await trx.raw(`update auto_topup_attempts set status = 'submitted', payment_intent_id = ?, updated_at = now() where id = ? and status = 'charging'`, [paymentIntentId, id]);
      await trx.raw(`update topup_intents set provider_ref = ? where id = ? and provider_ref = ?`, [paymentIntentId, id, `autotopup:${id}`]);
    });
  }

  /**
   * The charge failed: the attempt records why, auto top-up is turned off with the reason, and
   * the alert's event id is recorded in the same transaction (published after, and again by the
   * sweep until published). False if the attempt had failed already (another process settled it).
   */
  async markFailed(id: string, orgId: string, reason: string, alertEventId: string): Promise<boolean> {
    return this.knex.transaction(async (trx) => {
      const rows = (await trx.raw(`update auto_topup_attempts set status = 'failed', reason = ?, alert_event_id = ?, updated_at = now() where id = ? and status in ('charging', 'submitted') returning id`, [truncateReason(reason), alertEventId, id])).rows;
      if (!rows.length) return false;
      await this.disable(orgId, `auto top-up ${id} failed: ${reason}`, trx);
      return true;
    });
  }

  async markAlertPublished(id: string): Promise<void> {
    await this.knex.raw('update auto_topup_attempts set alert_published_at = now() where id = ? and alert_published_at is null', [id]);
  }

  async findAttempt(id: string): Promise<AutoTopupAttempt | null> {
    const rows = (await this.knex.raw('select a.*, t.status as topup_status, t.failure_reason as topup_failure_reason, t.credited_at from auto_topup_attempts a left join topup_intents t on t.id = a.id where a.id = ?', [id])).rows as AttemptRecord[];
    return rows.length ? toAttempt(rows[0]) : null;
  }

  /**
   * Attempts left charging for `minAgeMs` (a gateway stopped mid-charge), failures whose alert is
   * not published yet, and submitted ones (of the last SUBMITTED_WATCH_DAYS) whose top-up failed
   * or expired since (a bank debit refused after Stripe took it as processing).
   */
  async unfinished(minAgeMs: number, limit: number): Promise<AutoTopupAttempt[]> {
    const rows = (
      await this.knex.raw(
        `select a.*, t.status as topup_status, t.failure_reason as topup_failure_reason, t.credited_at from auto_topup_attempts a left join topup_intents t on t.id = a.id
         where (a.status = 'charging' or (a.alert_event_id is not null and a.alert_published_at is null)
                or (a.status = 'submitted' and a.updated_at > now() - (? * interval '1 day') and t.status in ('failed', 'expired')))
           and a.updated_at <= now() - (? * interval '1 millisecond')
         order by a.updated_at limit ?`,
        [SUBMITTED_WATCH_DAYS, minAgeMs, limit],
      )
    ).rows as AttemptRecord[];
    return rows.map(toAttempt);
  }
}
