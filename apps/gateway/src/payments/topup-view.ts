import { toDisplay } from '@billing/domain';
import { TopupIntent } from '@billing/persistence';

/**
 * A top-up as its organization sees it (`GET /api/v1/topups/<id>`): what it asked for, the
 * settlement's status, and whether the engine has credited it (`credited`: the first ledger
 * change, the credit, confirmed by the engine; `succeeded` alone means the provider took the
 * money and the credit is on its way). Nothing about the provider's facts or our ledger keys.
 */
export interface TopupView {
  readonly id: string;
  readonly status: TopupIntent['status'];
  readonly credited: boolean;
  readonly amount: string;
  readonly currency: string;
  readonly provider: TopupIntent['provider'];
  readonly providerRef: string;
  readonly createdAt: string;
  readonly settledAt: string | null;
  readonly creditedAt: string | null;
  /** The settlement's words for a status other than pending or succeeded (why it failed, what was refunded or disputed). */
  readonly reason: string | null;
}

export function topupView(intent: TopupIntent): TopupView {
  return {
    id: intent.id,
    status: intent.status,
    credited: intent.creditedAt !== null,
    amount: toDisplay(intent.amount, intent.currency),
    currency: intent.currency,
    provider: intent.provider,
    providerRef: intent.providerRef,
    createdAt: intent.createdAt.toISOString(),
    settledAt: intent.settledAt?.toISOString() ?? null,
    creditedAt: intent.creditedAt?.toISOString() ?? null,
    reason: intent.failureReason,
  };
}
