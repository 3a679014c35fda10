import { randomUUID } from 'crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AuditQuery, ErrorCode, errorReply, InputError, OperatorIdentity, voucherCodeFingerprint } from '@billing/contracts';
import { OperatorAuditRepository } from '@billing/persistence';
import { BillingMetrics } from '../billing.metrics';
import { BillingConfig } from '../config';
import { CONFIG } from '../tokens';

/** An operator action about to be done. */
export interface AuditedAction extends OperatorIdentity {
  /** `wallet.<command>` or `admin.<command>`. */
  readonly command: string;
  readonly orgId: string | null;
  readonly params: Record<string, unknown>;
}

/** Attempts at writing an outcome, and the waits between them: a short database blip does not lose it. */
const FINISH_RETRY_DELAYS_MS = [100, 500, 2000];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The engine writes the operators' audit, because every operator action, whether it comes from the
 * gateway's operator API or from a tool on the bus, is done here. An action is done only once its
 * row is stored (no row, no action: the request is answered UNAVAILABLE and nothing happens), and
 * its outcome is stored before the answer goes out. A process that stops in between leaves the
 * action without an outcome, which the audit shows as such; what it did is in the ledger under its
 * idempotency key.
 */
@Injectable()
export class OperatorAudit {
  private readonly logger = new Logger('OperatorAudit');

  constructor(
    private readonly repository: OperatorAuditRepository,
    @Inject(CONFIG) private readonly config: BillingConfig,
    private readonly metrics: BillingMetrics,
  ) {}

  /** A request id for a request that brought none. */
  static newRequestId(): string {
    return randomUUID();
  }

  /**
   * Records `action`, runs `act` (an InputError it throws is a refusal like any other), records the
   * outcome and resolves with the reply to send.
   */
  async run(action: AuditedAction, act: () => Promise<object>): Promise<object> {
    let id: string;
    try {
      id = await this.repository.begin({ ...action, nodeId: this.config.nodeId });
    } catch (error) {
      this.metrics.auditFailures.inc({ step: 'begin' });
      this.logger.error({ msg: 'operator action refused: its audit row could not be written', command: action.command, operator: action.operator, requestId: action.requestId, error: String((error as Error)?.message ?? error) });
      return errorReply(ErrorCode.UNAVAILABLE, 'the audit could not record this operator action, so nothing was done; retry (with the same idempotency key)');
    }
    let reply: object;
    try {
      reply = await act();
    } catch (error) {
      if (error instanceof InputError) reply = errorReply(error.code, error.message);
      else {
        this.logger.error({ msg: 'operator action failed', command: action.command, requestId: action.requestId, error: String((error as Error)?.stack ?? error) });
        reply = errorReply(ErrorCode.INTERNAL, 'internal error');
      }
    }
    await this.finish(id, action, reply);
    return reply;
  }

  list(query: AuditQuery) {
    return this.repository.list(query);
  }

  private async finish(id: string, action: AuditedAction, reply: object): Promise<void> {
    const { ok, error } = reply as { ok?: boolean; error?: { code?: string; message?: string } };
    const outcome = ok ? 'ok' : (error?.code ?? ErrorCode.INTERNAL);
    this.metrics.operatorActions.inc({ command: action.command, outcome });
    const record = { outcome, message: ok ? null : (error?.message ?? null), detail: ok ? detailOf(reply) : null };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.repository.finish(id, record);
        return;
      } catch (e) {
        if (attempt >= FINISH_RETRY_DELAYS_MS.length) {
          this.metrics.auditFailures.inc({ step: 'finish' });
          this.logger.error({ msg: 'operator action done but its outcome is not in the audit', actionId: id, command: action.command, requestId: action.requestId, outcome, error: String((e as Error)?.message ?? e) });
          return;
        }
        await sleep(FINISH_RETRY_DELAYS_MS[attempt]);
      }
    }
  }
}

/** What a successful reply made, for the audit: the ledger entry, the subscription, the voucher code. */
function detailOf(reply: object): Record<string, unknown> | null {
  const r = reply as { entry?: { id?: string; seq?: number | string }; subscription?: { id?: string }; voucher?: { code?: string } };
  if (r.entry) return { entryId: r.entry.id ?? null, seq: r.entry.seq ?? null };
  if (r.subscription) return { subscriptionId: r.subscription.id ?? null };
  if (r.voucher?.code) return { code: voucherCodeFingerprint(r.voucher.code) };
  return null;
}
