import { randomUUID } from 'crypto';
import { hostname } from 'os';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { amount as readAmount, auditParams, ErrorCode, errorReply, InputError, MAX_PAYLOAD_BYTES, TOKEN } from '@billing/contracts';
import { Decimal, fromMinorUnits, inMinorUnits, LEDGER_SCALE, minorUnits, refundableAmount, SettlementFact, toDisplay, toMinorUnits, viewOf, ZERO } from '@billing/domain';
import { OperatorAuditRepository, TopupIntent, TopupRefund, TopupRefundRepository, TopupRepository } from '@billing/persistence';
import { PaymentsMetrics } from './payments.metrics';
import { TopupSettlement } from './topup-settlement';
import { ProviderError } from './provider-call';
import { PAYPAL_CLIENT, PayPalClient, STRIPE_CLIENT, StripeClient, VNPAY_CLIENT, VnpayClient } from './provider-clients';

/** The audit's name of this action (`operator_actions.command`). */
export const REFUND_COMMAND = 'payments.refund';
/** A refund's reason: what the operator says, kept with the refund, sent to the provider and in the audit. */
export const MAX_REFUND_REASON_CHARS = 200;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Waits before retrying to record an outcome in the audit (the engine's). */
const AUDIT_FINISH_RETRY_DELAYS_MS = [100, 500, 2000];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Printable text: no control characters (nor NUL, which PostgreSQL text cannot hold). */
const PRINTABLE = /^[^\u0000-\u001f\u007f]+$/;

export interface RefundRequest {
  readonly topupId: string;
  /** null: all that is left. */
  readonly amount: Decimal | null;
  readonly reason: string;
  readonly idempotencyKey: string;
}

/**
 * `POST /api/v1/operator/topups/<id>/refunds` `{amount?, reason, idempotencyKey?}` with the key in
 * the body or the `Idempotency-Key` header (both: the same). Throws InputError.
 */
export function parseRefundRequest(topupId: string, body: unknown, headerKey: unknown): RefundRequest {
  if (!UUID.test(topupId)) throw new InputError(ErrorCode.INVALID_FIELD, 'the top-up id in the path must be a top-up id (a UUID)');
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InputError(ErrorCode.MALFORMED_JSON, 'the body must be a JSON object');
  const input = body as Record<string, unknown>;
  if (headerKey !== undefined && typeof headerKey !== 'string') throw new InputError(ErrorCode.INVALID_FIELD, "'Idempotency-Key' must be given once");
  const bodyKey = input.idempotencyKey;
  if (bodyKey !== undefined && bodyKey !== null && typeof bodyKey !== 'string') throw new InputError(ErrorCode.INVALID_FIELD, "'idempotencyKey' must be a string");
  if (typeof headerKey === 'string' && typeof bodyKey === 'string' && headerKey !== bodyKey) throw new InputError(ErrorCode.INVALID_FIELD, "the 'Idempotency-Key' header and the body's 'idempotencyKey' differ");
  const key = (headerKey as string | undefined) ?? (bodyKey as string | undefined);
  if (key === undefined || key === '') throw new InputError(ErrorCode.MISSING_FIELD, "a refund needs an idempotency key: the 'Idempotency-Key' header or 'idempotencyKey' in the body");
  if (!TOKEN.test(key)) throw new InputError(ErrorCode.INVALID_FIELD, 'the idempotency key must be 1-128 characters of letters, digits, _ . : or -');
  const reason = input.reason;
  if (reason === undefined || reason === null) throw new InputError(ErrorCode.MISSING_FIELD, "'reason' is required: why the money goes back");
  if (typeof reason !== 'string' || reason.trim().length === 0 || reason.length > MAX_REFUND_REASON_CHARS || !PRINTABLE.test(reason)) {
    throw new InputError(ErrorCode.INVALID_FIELD, `'reason' must be 1-${MAX_REFUND_REASON_CHARS} printable characters`);
  }
  const amount = input.amount === undefined || input.amount === null ? null : readAmount(input, 'amount', LEDGER_SCALE);
  return { topupId, amount, reason, idempotencyKey: key };
}

export type RefundRefusal = { readonly code: string; readonly message: string };

/**
 * How much a refund may take back (pure): the top-up must hold a capture, no dispute may hold
 * it (refunding disputed money would pay it back twice), and it is at most what was captured,
 * less what was refunded and what other refunds still in flight ask.
 */
export function refundDecision(intent: Pick<TopupIntent, 'status' | 'currency' | 'provider' | 'captureRef' | 'settlement'>, requested: Decimal | null, inFlight: Decimal): { amount: Decimal } | { refusal: RefundRefusal } {
  const view = viewOf(intent.settlement.facts);
  if (view.captured.isZero()) return { refusal: { code: ErrorCode.NOT_REFUNDABLE, message: `the top-up is ${intent.status}: nothing was captured, there is nothing to refund` } };
  if (intent.status === 'disputed' || intent.status === 'dispute_lost') return { refusal: { code: ErrorCode.NOT_REFUNDABLE, message: `the top-up is ${intent.status}: a dispute holds the payment, which the provider settles` } };
  if (intent.provider === 'paypal' && intent.captureRef === null) return { refusal: { code: ErrorCode.NOT_REFUNDABLE, message: 'the PayPal capture of this top-up is not known yet' } };
  const left = refundableAmount(view, inFlight);
  const shown = (d: Decimal) => `${toDisplay(Decimal.max(d, ZERO), intent.currency)} ${intent.currency}`;
  if (left.lessThanOrEqualTo(ZERO)) return { refusal: { code: ErrorCode.NOT_REFUNDABLE, message: `nothing is left to refund (captured ${shown(view.captured)}, refunded ${shown(view.refunded)}, in flight ${shown(inFlight)})` } };
  if (requested === null) return { amount: left };
  if (!inMinorUnits(requested, intent.currency)) return { refusal: { code: ErrorCode.TOO_MANY_DECIMALS, message: `a refund in ${intent.currency} has at most ${minorUnits(intent.currency)} decimals` } };
  if (requested.greaterThan(left)) return { refusal: { code: ErrorCode.REFUND_EXCEEDS_REMAINING, message: `at most ${shown(left)} is left to refund` } };
  return { amount: requested };
}

/** Who asks, as the operator guard verified it. */
export interface RefundOperator {
  readonly operator: string;
  readonly requestId: string;
}

export type RefundReply = { ok: true; replayed: boolean; refund: Record<string, unknown>; topup: Record<string, unknown> } | { ok: false; error: { code: string; message: string } };

/** What the provider said of a refund it took. */
interface ProviderRefund {
  readonly id: string;
  readonly status: string;
  readonly fact: SettlementFact;
}

/**
 * Operator refunds. Top-ups are not refundable by customers (the product's rule), so the only
 * way money goes back is an operator asking here: the refund is recorded (`requested`) before
 * the provider is called with its own idempotency key (`refund-<refund id>`: Stripe's
 * Idempotency-Key, PayPal-Request-Id; VNPAY's vnp_RequestId is the id's hex), then the provider's
 * answer is the refund's fact in the top-up's settlement, which reverses the ledger by it through
 * the state machine (`reverse:<id>:<n>`), and the refund is `succeeded`. The same idempotency key
 * again gets the first refund back, or resumes one the provider could not be asked about (with
 * the same provider key, so it is never made twice); another amount or reason under it is
 * IDEMPOTENCY_CONFLICT. Every request is audited, like every operator action (`operator_actions`,
 * `payments.refund`), written before anything is done (no row, no action) with its outcome after.
 */
@Injectable()
export class PaymentRefunds {
  private readonly logger = new Logger('PaymentRefunds');
  private readonly nodeId = `gateway-${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${process.pid}`;

  constructor(
    private readonly topups: TopupRepository,
    private readonly refunds: TopupRefundRepository,
    private readonly audit: OperatorAuditRepository,
    private readonly settlement: TopupSettlement,
    private readonly metrics: PaymentsMetrics,
    @Inject(STRIPE_CLIENT) private readonly stripe: StripeClient,
    @Inject(PAYPAL_CLIENT) private readonly paypal: PayPalClient,
    @Inject(VNPAY_CLIENT) private readonly vnpay: VnpayClient,
  ) {}

  async refund(who: RefundOperator, topupId: string, body: unknown, headerKey: unknown): Promise<RefundReply> {
    // Only to name its organization in the audit; the database out of reach fails the audit's row next.
    const intent = UUID.test(topupId) ? await this.topups.findById(topupId).catch(() => null) : null;
    let actionId: string;
    try {
      actionId = await this.audit.begin({ operator: who.operator, via: 'http', command: REFUND_COMMAND, orgId: intent?.orgId ?? null, params: paramsOf(topupId, body, headerKey), requestId: who.requestId, nodeId: this.nodeId });
    } catch (error) {
      this.logger.error({ msg: 'operator refund refused: its audit row could not be written', topupId, operator: who.operator, requestId: who.requestId, error: (error as Error).message });
      return errorReply(ErrorCode.UNAVAILABLE, 'the audit could not record this refund, so nothing was done; retry with the same idempotency key');
    }
    let reply: RefundReply;
    try {
      reply = await this.act(who, topupId, body, headerKey);
    } catch (error) {
      if (error instanceof InputError) reply = errorReply(error.code, error.message);
      else {
        this.logger.error({ msg: 'operator refund failed', topupId, requestId: who.requestId, error: (error as Error).stack });
        reply = errorReply(ErrorCode.INTERNAL, 'internal error');
      }
    }
    const provider = intent?.provider ?? 'unknown';
    this.metrics.refunds.inc({ provider, outcome: reply.ok ? (reply.replayed ? 'replayed' : 'ok') : reply.error.code });
    const outcome = reply.ok ? { outcome: 'ok', message: null, detail: { refundId: reply.refund.id, providerRefundId: reply.refund.providerRefundId, amount: reply.refund.amount, currency: reply.refund.currency, replayed: reply.replayed } } : { outcome: reply.error.code, message: reply.error.message, detail: null };
    // As the engine does: the outcome before the answer, retried a few times over a short database blip.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.audit.finish(actionId, outcome);
        break;
      } catch (error) {
        if (attempt >= AUDIT_FINISH_RETRY_DELAYS_MS.length) {
          this.logger.error({ msg: 'operator refund done but its outcome is not in the audit', actionId, requestId: who.requestId, outcome: outcome.outcome, error: (error as Error).message });
          break;
        }
        await sleep(AUDIT_FINISH_RETRY_DELAYS_MS[attempt]);
      }
    }
    return reply;
  }

  private async act(who: RefundOperator, topupId: string, body: unknown, headerKey: unknown): Promise<RefundReply> {
    const request = parseRefundRequest(topupId, body, headerKey);
    const reservation = await this.refunds.reserve(
      { id: randomUUID(), topupId, idempotencyKey: request.idempotencyKey, requestedAmount: request.amount, reason: request.reason, operator: who.operator, requestId: who.requestId },
      (intent, inFlight) => refundDecision(intent, request.amount, inFlight),
    );
    if (reservation.kind === 'unknown_topup') return errorReply(ErrorCode.UNKNOWN_TOPUP, `no top-up ${topupId}`);
    if (reservation.kind === 'refused') return errorReply(reservation.refusal.code, reservation.refusal.message);
    let refund = reservation.refund;
    if (reservation.kind === 'existing') {
      const same = refund.reason === request.reason && (refund.requestedAmount === null ? request.amount === null : request.amount !== null && refund.requestedAmount.equals(request.amount));
      if (!same) return errorReply(ErrorCode.IDEMPOTENCY_CONFLICT, `the idempotency key '${request.idempotencyKey}' was used for another refund of this top-up (${refund.requestedAmount?.toFixed() ?? 'all that was left'}, '${refund.reason}')`);
      if (refund.status === 'succeeded') return this.reply(refund, reservation.intent, true);
      if (refund.status === 'failed') return errorReply(ErrorCode.PROVIDER_REFUSED, refund.error ?? 'the provider refused this refund');
      // Still `requested`: the provider's answer was never had. Asked again with the same provider key.
    }
    let taken: ProviderRefund;
    try {
      taken = await this.atProvider(reservation.intent, refund);
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      if (error.kind === 'invalid' || error.kind === 'declined' || error.kind === 'conflict') {
        refund = await this.refunds.markFailed(refund.id, `${reservation.intent.provider} refused the refund: ${error.message}`);
        this.logger.warn({ msg: 'provider refused an operator refund', topupId, refundId: refund.id, error: error.message });
        return errorReply(ErrorCode.PROVIDER_REFUSED, refund.error ?? error.message);
      }
      await this.refunds.noteError(refund.id, error.message);
      this.logger.warn({ msg: 'provider not reached for an operator refund; retry with the same key', topupId, refundId: refund.id, error: error.message });
      return errorReply(ErrorCode.UNAVAILABLE, `${reservation.intent.provider} could not be asked (${error.message}); nothing more is known of this refund: retry with the same idempotency key`);
    }
    // The refund's own fact settles it: the machine reverses what it takes back, once.
    const current = (await this.topups.findById(topupId)) ?? reservation.intent;
    const outcome = await this.settlement.applyFact(current, taken.fact);
    refund = await this.refunds.markSucceeded(refund.id, taken.id, taken.status);
    this.logger.log({ msg: 'operator refund', topupId, refundId: refund.id, operator: who.operator, amount: refund.amount.toFixed(), providerRefundId: taken.id, providerStatus: taken.status, settlement: outcome });
    // A refund resumed under its key (its provider was not reached the first time) is done now, not replayed.
    return this.reply(refund, (await this.topups.findById(topupId)) ?? current, false);
  }

  /** The provider's refund API, with this refund's own idempotency key in every attempt. */
  private async atProvider(intent: TopupIntent, refund: TopupRefund): Promise<ProviderRefund> {
    const providerKey = `refund-${refund.id}`;
    const now = new Date();
    switch (intent.provider) {
      case 'stripe': {
        const r = await this.stripe.refund({ paymentIntentId: intent.providerRef, amountMinor: toMinorUnits(refund.amount, intent.currency), idempotencyKey: providerKey, reason: refund.reason });
        if (r.status === 'failed' || r.status === 'canceled') throw new ProviderError('stripe', 'declined', `refund ${r.id} is ${r.status}`);
        const amount = fromMinorUnits(r.amountMinor, intent.currency) ?? refund.amount;
        return { id: r.id, status: r.status, fact: { key: `stripe:refund:${r.id}`, at: now, input: { kind: 'refund', refundId: r.id, amount, counts: true, total: null } } };
      }
      case 'paypal': {
        const r = await this.paypal.refundCapture({ captureId: intent.captureRef!, amount: refund.amount, currency: intent.currency, requestId: providerKey, note: refund.reason });
        if (r.status === 'CANCELLED' || r.status === 'FAILED') throw new ProviderError('paypal', 'declined', `refund ${r.id} is ${r.status}`);
        // The refund's id is the one PAYMENT.CAPTURE.REFUNDED will name: the webhook's report of it is the same refund.
        return { id: r.id, status: r.status, fact: { key: `paypal:refund:${r.id}`, at: now, input: { kind: 'refund', refundId: r.id, amount: r.amount ?? refund.amount, counts: true, total: null } } };
      }
      case 'vnpay': {
        const view = viewOf(intent.settlement.facts);
        const requestId = refund.id.replace(/-/g, '');
        const r = await this.vnpay.refund({ txnRef: intent.providerRef, amount: refund.amount, full: refund.amount.equals(view.captured) && view.refunded.isZero(), transactionNo: intent.captureRef, transactionDate: intent.createdAt, createBy: refund.operator, requestId, orderInfo: `Hoan tien ${intent.providerRef}` });
        // VNPAY numbers the refund as a transaction of its own; querydr reads a refund under that number too.
        const id = r.transactionNo ? `vnpay:${r.transactionNo}` : `vnpay:request:${requestId}`;
        return { id, status: r.status, fact: { key: `vnpay:refund:${r.transactionNo ?? `request:${requestId}`}`, at: now, input: { kind: 'refund', refundId: id, amount: r.amount ?? refund.amount, counts: true, total: null } } };
      }
    }
  }

  private reply(refund: TopupRefund, intent: TopupIntent, replayed: boolean): RefundReply {
    const view = viewOf(intent.settlement.facts);
    return {
      ok: true,
      replayed,
      refund: {
        id: refund.id,
        topupId: refund.topupId,
        idempotencyKey: refund.idempotencyKey,
        amount: toDisplay(refund.amount, refund.currency),
        currency: refund.currency,
        reason: refund.reason,
        status: refund.status,
        providerRefundId: refund.providerRefundId,
        providerStatus: refund.providerStatus,
        operator: refund.operator,
        createdAt: refund.createdAt.toISOString(),
      },
      topup: {
        id: intent.id,
        orgId: intent.orgId,
        status: intent.status,
        amount: toDisplay(intent.amount, intent.currency),
        currency: intent.currency,
        provider: intent.provider,
        captured: toDisplay(view.captured, intent.currency),
        refunded: toDisplay(view.refunded, intent.currency),
        ledgerChanges: intent.settlement.changes.map((c) => ({ idempotencyKey: c.idempotencyKey, kind: c.kind, amount: c.amount.toFixed() })),
      },
    };
  }
}

/** What the audit keeps of a refund request: the body as sent (bounded), the path's top-up id and the header's key. */
function paramsOf(topupId: string, body: unknown, headerKey: unknown): Record<string, unknown> {
  let bytes: Buffer;
  try {
    bytes = Buffer.from(JSON.stringify(body ?? null) ?? 'null', 'utf8');
  } catch {
    bytes = Buffer.from('unreadable');
  }
  const params = bytes.length > MAX_PAYLOAD_BYTES ? { unreadable: ErrorCode.PAYLOAD_TOO_LARGE, bytes: bytes.length } : auditParams(bytes);
  return { ...params, topupId: topupId.slice(0, 100), ...(typeof headerKey === 'string' ? { idempotencyKeyHeader: headerKey.slice(0, 200) } : {}) };
}
