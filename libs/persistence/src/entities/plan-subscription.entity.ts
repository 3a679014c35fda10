import { EntitySchema } from '@mikro-orm/core';

/** A billing plan an organization subscribed to: credit each period, optionally rolling over. */
export interface PlanSubscriptionRow {
  id: string;
  orgId: string;
  plan: string;
  amount: string;
  currency: string;
  periodMs: string;
  rolloverCap?: string | null;
  /** Start of the next period not granted yet. */
  nextPeriodAt: Date;
  endsAt?: Date | null;
  createdAt: Date;
}

export const PlanSubscriptionEntity = new EntitySchema<PlanSubscriptionRow>({
  name: 'PlanSubscription',
  tableName: 'plan_subscriptions',
  indexes: [{ name: 'plan_subscriptions_next_period_idx', properties: ['nextPeriodAt'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    orgId: { type: 'text' },
    plan: { type: 'text' },
    amount: { type: 'decimal', precision: 38, scale: 8 },
    currency: { type: 'text' },
    periodMs: { type: 'bigint' },
    rolloverCap: { type: 'decimal', precision: 38, scale: 8, nullable: true },
    nextPeriodAt: { type: 'Date', columnType: 'timestamptz' },
    endsAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
});
