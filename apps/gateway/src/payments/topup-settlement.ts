import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode } from '@billing/contracts';
import { applyFact, LedgerChange, SettlementFact, toPaymentText } from '@billing/domain';
import { TopupIntent, TopupRepository } from '@billing/persistence';
import { BillingClient } from '../wallet/billing.client';
import { PaymentsConfig, SWEEP_BATCH_SIZE } from './payments.config';
import { PAYMENTS_CONFIG } from './payments.tokens';
import { SettlementReport, TopupLookup } from './settlement-report';

/** Engine answers that a later attempt may not get: the credit or reversal is retried. */
const PASSING_ERRORS: ReadonlySet<string> = new Set([ErrorCode.UNAVAILABLE, ErrorCode.MAILBOX_FULL, ErrorCode.CONFLICT, ErrorCode.INTERNAL]);

/** What a webhook did to its top-up; carried in the answer to help whoever reads the provider's delivery log. */
export type WebhookOutcome =
  /** The fact made a credit (a payment, or money given back after a won dispute) and the engine took it; pending: not yet, the sweep goes on; refused: for good. */
  | 'credited'
  | 'credit_pending'
  | 'credit_refused'
  /** The fact made a reversal (a refund, a dispute) and the engine took it; or not yet; or refused for good. */
  | 'reversed'
  | 'reversal_pending'
  | 'reversal_refused'
  /** The fact was recorded and the ledger already holds what it should: the payment failed, expired, or nothing changes (a late failure after a success). */
  | 'failed'
  | 'expired'
  | 'recorded'
  /** This fact was recorded before: nothing changes. */
  | 'already_settled'
  | 'unknown_topup'
  | 'amount_mismatch'
  | 'currency_mismatch'
  /** Of a type used, but without what that type must carry: nothing recorded. */
  | 'invalid_event'
  /** The top-up holds MAX_SETTLEMENT_FACTS facts already: nothing recorded. */
  | 'too_many_facts'
  /** Other writers kept winning the compare-and-set: nothing recorded, the provider is asked to retry. */
  | 'busy'
  | 'ignored';

/** Compare-and-set attempts of one fact before the provider is asked to retry (each lost attempt means another fact got in). */
export const MAX_SETTLE_ATTEMPTS = 20;
/** A top-up id as we make them (the column is a uuid: anything else is not ours and is not looked up). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How sending a top-up's unconfirmed ledger changes ended: all taken, stopped by a passing failure, or stopped by a refusal for good. */
type Delivery = 'sent' | 'pending' | 'refused';

/**
 * Settles top-ups: what a provider reports (a webhook, reconciliation's question, an operator
 * refund's answer) is read as a fact of the settlement machine (`libs/domain/src/settlement.ts`),
 * which the top-up's row stores by one compare-and-set with the ledger change the fact made, if
 * any; a replayed or concurrent copy changes nothing. The engine's `payment.topup` and
 * `payment.reverse` are idempotent by each change's own key (`topup:<id>`, then
 * `reverse:<id>:<n>` or `topup:<id>:<n>`), so whatever is re-sent after a crash (by a replay or
 * by the sweep) takes effect once. Calls to a provider or to the engine are made between
 * single-statement writes, never in a transaction.
 */
@Injectable()
export class TopupSettlement {
  private readonly logger = new Logger('Payments');

  constructor(
    private readonly billing: BillingClient,
    private readonly topups: TopupRepository,
    @Inject(PAYMENTS_CONFIG) private readonly config: PaymentsConfig,
  ) {}

  /**
   * Applies a fact the gateway learnt itself (an operator refund's answer, reconciliation's expiry) to a
   * top-up, through the same machine and compare-and-set as a webhook's.
   */
  async applyFact(intent: TopupIntent, fact: SettlementFact): Promise<WebhookOutcome> {
    return this.settle(intent, fact);
  }

  /** Re-sends the ledger changes the engine has not confirmed; returns how many top-ups it looked at. */
  async sweep(): Promise<number> {
    const due = await this.topups.unsent(this.config.sweepMinAgeMs, SWEEP_BATCH_SIZE);
    for (const intent of due) await this.deliver(intent);
    return due.length;
  }

  /**
   * Applies what a verified provider event says to the top-up it is about, through the
   * settlement machine. Reconciliation feeds the same path with what it asks the providers.
   */
  async applyReport(provider: TopupIntent['provider'], report: SettlementReport): Promise<WebhookOutcome> {
    if (report.kind === 'ignored') return 'ignored';
    if (report.kind === 'invalid') {
      this.logger.warn({ msg: 'payment event unreadable', provider, reason: report.reason });
      return 'invalid_event';
    }
    const intent = await this.find(provider, report.find);
    if (!intent || (report.topupId !== null && report.topupId !== intent.id)) return 'unknown_topup';
    if (report.currency !== null && report.currency !== intent.currency) return 'currency_mismatch';
    if (report.paymentAmount !== null && !report.paymentAmount.equals(intent.amount)) return 'amount_mismatch';
    const input = report.input(intent.currency);
    if (input === null) return 'amount_mismatch';
    // A capture is of the top-up's amount; a refund, a dispute or a reversal is never more than it.
    if (input.kind === 'captured' && !input.amount.equals(intent.amount)) return 'amount_mismatch';
    const amounts = input.kind === 'refund' ? [input.amount, input.total] : input.kind === 'dispute' || input.kind === 'reversal' ? [input.amount] : [];
    if (amounts.some((a) => a !== null && a.greaterThan(intent.amount))) return 'amount_mismatch';
    return this.settle(intent, { key: report.key, at: report.at, input });
  }

  private async find(provider: TopupIntent['provider'], find: TopupLookup): Promise<TopupIntent | null> {
    if (find.topupId && UUID.test(find.topupId)) {
      const byId = await this.topups.findById(find.topupId);
      if (byId?.provider === provider) return byId;
    }
    if (find.providerRef) {
      const byRef = await this.topups.findByProviderRef(provider, find.providerRef);
      if (byRef) return byRef;
    }
    for (const captureRef of find.captureRefs ?? []) {
      const byCapture = captureRef ? await this.topups.findByCaptureRef(provider, captureRef) : null;
      if (byCapture) return byCapture;
    }
    // An auto top-up whose PaymentIntent is not stored yet: it takes this one's id, then settles as any other.
    if (provider === 'stripe' && find.autoTopupId && find.providerRef && UUID.test(find.autoTopupId)) {
      return this.topups.claimAutoTopupRef(find.autoTopupId, find.providerRef);
    }
    return null;
  }

  /**
   * Adds the fact to the top-up's settlement by compare-and-set on its version: of any number
   * of writers at once, one stores, the others start again from what it stored (and find the
   * fact there if it was the same). Then sends what the engine has not confirmed, in order.
   */
  private async settle(intent: TopupIntent, fact: SettlementFact): Promise<WebhookOutcome> {
    let current: TopupIntent | null = intent;
    for (let attempt = 0; attempt < MAX_SETTLE_ATTEMPTS && current; attempt++) {
      const result = applyFact(current.settlement, fact);
      if (result.outcome === 'refused') {
        this.logger.error({ msg: 'settlement fact refused', topupId: current.id, fact: fact.key, reason: result.reason });
        return 'too_many_facts';
      }
      if (result.outcome === 'duplicate') {
        // A repeat: repair what a crash may have left unsent (a no-op in the engine otherwise).
        await this.deliver(current);
        return 'already_settled';
      }
      const saved = await this.topups.saveSettlement(current.id, current.version, result.settlement, result.view);
      if (!saved) {
        current = await this.topups.findById(current.id);
        continue;
      }
      const delivery = await this.deliver(saved);
      if (result.emitted) return outcomeOf(result.emitted, delivery);
      return result.view.status === 'failed' ? 'failed' : result.view.status === 'expired' ? 'expired' : 'recorded';
    }
    this.logger.warn({ msg: 'settlement busy; the provider will retry', topupId: intent.id, fact: fact.key });
    return 'busy';
  }

  /**
   * Sends the top-up's ledger changes the engine has not confirmed, one after the other (a
   * reversal never overtakes the credit it takes back), each with its own idempotency key, so
   * whatever is sent again after a crash, by a webhook's repeat or by the sweep, takes effect once.
   */
  private async deliver(intent: TopupIntent): Promise<Delivery> {
    if (intent.creditError !== null) return 'refused';
    const changes = intent.settlement.changes;
    for (let i = intent.changesConfirmed; i < changes.length; i++) {
      const change = changes[i];
      const reply = await this.billing.request(intent.orgId, change.kind === 'credit' ? 'payment.topup' : 'payment.reverse', this.command(intent, change));
      if (reply.ok) {
        await this.topups.markChangesConfirmed(intent.id, i + 1);
        continue;
      }
      const code: string = reply.error?.code ?? ErrorCode.INTERNAL;
      if (PASSING_ERRORS.has(code)) {
        this.logger.warn({ msg: 'ledger change not confirmed; the sweep will retry', topupId: intent.id, key: change.idempotencyKey, error: reply.error });
        return 'pending';
      }
      // Refused for good (another top-up fixed another currency first): an operator settles it by hand.
      this.logger.error({ msg: 'the engine refused a ledger change of a paid top-up; it needs an operator', topupId: intent.id, orgId: intent.orgId, key: change.idempotencyKey, error: reply.error });
      await this.topups.markLedgerRefused(intent.id, `${change.idempotencyKey}: ${code}: ${reply.error?.message ?? ''}`);
      return 'refused';
    }
    return 'sent';
  }

  private command(intent: TopupIntent, change: LedgerChange): object {
    const amount = toPaymentText(change.amount, intent.currency);
    if (change.kind === 'credit') return { idempotencyKey: change.idempotencyKey, amount, currency: intent.currency, provider: intent.provider, reference: intent.providerRef };
    // The reference names the top-up's grant (`<provider>:<reference>`), which the reversal draws on first.
    return { idempotencyKey: change.idempotencyKey, amount, currency: intent.currency, reference: `${intent.provider}:${intent.providerRef}`, reason: change.reason };
  }

}

function outcomeOf(emitted: LedgerChange, delivery: Delivery): WebhookOutcome {
  if (emitted.kind === 'credit') return delivery === 'sent' ? 'credited' : delivery === 'pending' ? 'credit_pending' : 'credit_refused';
  return delivery === 'sent' ? 'reversed' : delivery === 'pending' ? 'reversal_pending' : 'reversal_refused';
}
