/** Auto top-up rows as PostgreSQL returns them, and their reading into the repository's types. */
import { Currency, Decimal } from '@billing/domain';
import type { AutoTopupAttempt, AutoTopupAttemptStatus, AutoTopupSettings } from './auto-topup.repository';
import { dateOfColumn } from './topup-intent-row';

export interface SettingsRecord {
  org_id: string;
  enabled: boolean;
  trigger_kind: 'amount' | 'runway';
  trigger_amount: string | null;
  trigger_runway_seconds: number | null;
  target: string;
  currency: string;
  max_per_topup: string;
  max_per_day: string;
  max_per_month: string;
  stripe_customer: string;
  stripe_payment_method: string;
  consent_at: Date | string;
  consent_by: string;
  armed: boolean;
  last_seq: string | number;
  disabled_reason: string | null;
  disabled_at: Date | string | null;
  updated_at: Date | string;
}

export interface AttemptRecord {
  id: string;
  org_id: string;
  crossing_seq: string | number;
  idempotency_key: string;
  amount: string | null;
  currency: string;
  status: AutoTopupAttemptStatus;
  reason: string | null;
  payment_intent_id: string | null;
  alert_event_id: string | null;
  alert_published_at: Date | string | null;
  created_at: Date | string;
  topup_status?: string | null;
  topup_failure_reason?: string | null;
  credited_at?: Date | string | null;
}

export const toSettings = (r: SettingsRecord): AutoTopupSettings => ({
  orgId: r.org_id,
  enabled: r.enabled,
  trigger: r.trigger_kind === 'amount' ? { kind: 'amount', amount: new Decimal(r.trigger_amount!) } : { kind: 'runway', seconds: Number(r.trigger_runway_seconds) },
  target: new Decimal(r.target),
  currency: r.currency as Currency,
  caps: { maxPerTopup: new Decimal(r.max_per_topup), maxPerDay: new Decimal(r.max_per_day), maxPerMonth: new Decimal(r.max_per_month) },
  stripeCustomer: r.stripe_customer,
  stripePaymentMethod: r.stripe_payment_method,
  consentAt: dateOfColumn(r.consent_at),
  consentBy: r.consent_by,
  armed: r.armed,
  lastSeq: Number(r.last_seq),
  disabledReason: r.disabled_reason,
  disabledAt: r.disabled_at === null ? null : dateOfColumn(r.disabled_at),
  updatedAt: dateOfColumn(r.updated_at),
});

export const toAttempt = (r: AttemptRecord): AutoTopupAttempt => ({
  id: r.id,
  orgId: r.org_id,
  crossingSeq: Number(r.crossing_seq),
  idempotencyKey: r.idempotency_key,
  amount: r.amount === null ? null : new Decimal(r.amount),
  currency: r.currency as Currency,
  status: r.status,
  reason: r.reason,
  paymentIntentId: r.payment_intent_id,
  alertEventId: r.alert_event_id,
  alertPublishedAt: r.alert_published_at === null ? null : dateOfColumn(r.alert_published_at),
  createdAt: dateOfColumn(r.created_at),
  topupStatus: r.topup_status ?? null,
  topupFailureReason: r.topup_failure_reason ?? null,
  creditedAt: r.credited_at ? dateOfColumn(r.credited_at) : null,
});
