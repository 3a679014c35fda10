import { Currency, Decimal, PlanTerms } from '@billing/domain';
import { MikroORM } from '@mikro-orm/postgresql';
import { partitionCondition, PartitionFilter } from './partitions';

export interface PlanSubscription extends PlanTerms {
  readonly id: string;
  readonly nextPeriodAt: Date;
  readonly endsAt: Date | null;
}

interface Row {
  id: string;
  org_id: string;
  plan: string;
  amount: string;
  currency: string;
  period_ms: string;
  rollover_cap: string | null;
  next_period_at: Date | string;
  ends_at: Date | string | null;
}

function toSubscription(r: Row): PlanSubscription {
  return {
    id: r.id,
    orgId: r.org_id,
    plan: r.plan,
    amount: new Decimal(r.amount),
    currency: r.currency as Currency,
    periodMs: Number(r.period_ms),
    rolloverCap: r.rollover_cap === null ? null : new Decimal(r.rollover_cap),
    nextPeriodAt: new Date(r.next_period_at),
    endsAt: r.ends_at === null ? null : new Date(r.ends_at),
  };
}

export class PlanRepository {
  constructor(private readonly orm: MikroORM) {}

  private get knex() {
    return this.orm.em.getConnection().getKnex();
  }

  async subscribe(s: Omit<PlanSubscription, 'endsAt'>): Promise<PlanSubscription> {
    const rows = (
      await this.knex.raw(
        `insert into plan_subscriptions (id, org_id, plan, amount, currency, period_ms, rollover_cap, next_period_at) values (?, ?, ?, ?, ?, ?, ?, ?) returning *`,
        [s.id, s.orgId, s.plan, s.amount.toFixed(), s.currency, s.periodMs, s.rolloverCap?.toFixed() ?? null, s.nextPeriodAt],
      )
    ).rows as Row[];
    return toSubscription(rows[0]);
  }

  /** No period starting from now on is granted any more. */
  async cancel(id: string, at: Date): Promise<PlanSubscription | null> {
    const rows = (await this.knex.raw('update plan_subscriptions set ends_at = ? where id = ? and ends_at is null returning *', [at, id])).rows as Row[];
    return rows.length ? toSubscription(rows[0]) : null;
  }

  /** Subscriptions whose next period has started (and is before their end). */
  async due(now: Date, partitions?: PartitionFilter, limit = 500): Promise<PlanSubscription[]> {
    const owned = partitionCondition('org_id', partitions);
    const rows = (
      await this.knex.raw(`select * from plan_subscriptions where next_period_at <= ? and (ends_at is null or next_period_at < ends_at) and ${owned.sql} order by next_period_at limit ?`, [
        now,
        ...owned.bindings,
        limit,
      ])
    ).rows as Row[];
    return rows.map(toSubscription);
  }

  /** The period starting at `from` is granted: move on, unless another process did already. */
  async advance(id: string, from: Date, to: Date): Promise<boolean> {
    const rows = (await this.knex.raw('update plan_subscriptions set next_period_at = ? where id = ? and next_period_at = ? returning id', [to, id, from])).rows;
    return rows.length > 0;
  }
}
