import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, errorReply, fingerprint } from '@billing/contracts';
import { GrantCommand, VoucherCodeTerms, voucherExpiresAt } from '@billing/domain';
import { Redemption, VoucherCode, VoucherCodeExistsError, VoucherRepository } from '@billing/persistence';
import { Ownership } from '../ownership/ownership.service';
import { WalletService } from '../wallet/wallet.service';

/** How long a reservation may wait for its grant before the sweep grants it (a crash in between). */
export const STALE_RESERVATION_MS = 30_000;
const SWEEP_INTERVAL_MS = 15_000;

const REFUSALS: Record<string, string> = {
  UNKNOWN_VOUCHER_CODE: 'no such voucher code',
  VOUCHER_CAMPAIGN_ENDED: 'the campaign of this code has ended',
  VOUCHER_EXPIRED: 'the vouchers of this code have expired',
  VOUCHER_EXHAUSTED: 'this code has been redeemed as often as it may be',
  VOUCHER_ALREADY_REDEEMED: 'this organization has redeemed this code already',
};

/** Refusals after which the reservation is given back: the wallet will never take this grant. */
const FINAL_REFUSALS = new Set<string>([ErrorCode.CURRENCY_LOCKED, ErrorCode.GRANT_ALREADY_EXPIRED]);

/**
 * Voucher codes. A redemption is counted against the code's maximum in one transaction (so the
 * maximum holds whatever the concurrency), then granted by the organization's wallet actor with
 * an idempotency key derived from the code: a crash in between is finished by a sweep, and a
 * retried request gets the first result.
 */
@Injectable()
export class VoucherService {
  private readonly logger = new Logger('VoucherService');
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly repository: VoucherRepository, private readonly wallets: WalletService, private readonly ownership: Ownership) {}

  async create(spec: VoucherCodeTerms): Promise<object> {
    try {
      const v = await this.repository.create(spec);
      return { ok: true, voucher: { ...v, amount: v.amount.toFixed(), expiresAt: v.expiresAt?.toISOString() ?? null, campaignEndsAt: v.campaignEndsAt?.toISOString() ?? null } };
    } catch (error) {
      if (error instanceof VoucherCodeExistsError) return errorReply(ErrorCode.VOUCHER_CODE_EXISTS, error.message);
      throw error;
    }
  }

  async redeem(orgId: string, code: string, idempotencyKey: string): Promise<object> {
    const reservation = await this.repository.reserve(code, orgId, idempotencyKey, new Date());
    if (reservation.kind === 'refused') return errorReply(reservation.code, REFUSALS[reservation.code]);
    return this.grant(reservation.voucher, reservation.redemption);
  }

  start(): void {
    this.timer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Grants reservations that a crash left without their grant (of the organizations served here). */
  async sweep(): Promise<number> {
    try {
      const stale = await this.repository.staleReservations(new Date(Date.now() - STALE_RESERVATION_MS), this.ownership.owned());
      for (const { voucher, redemption } of stale) await this.grant(voucher, redemption);
      return stale.length;
    } catch (error) {
      this.logger.warn({ msg: 'voucher sweep failed; the next one retries', error: String((error as Error)?.message ?? error) });
      return 0;
    }
  }

  private async grant(voucher: VoucherCode, redemption: Redemption): Promise<object> {
    // Derived from the redemption, never from the clock of this attempt: a retry is the same command.
    const expiresAt = voucherExpiresAt(voucher, redemption.createdAt);
    const command: GrantCommand = {
      type: 'grant',
      idempotencyKey: `voucher:${voucher.code}`,
      kind: 'voucher',
      amount: voucher.amount,
      currency: voucher.currency,
      service: voucher.service,
      expiresAt,
      reference: `voucher:${voucher.code}`,
    };
    const reply = (await this.wallets.ask(redemption.orgId, { name: 'grant', command, requestHash: fingerprint(command) })) as { ok: boolean; error?: { code: string } };
    if (reply.ok) await this.repository.markGranted(voucher.code, redemption.orgId);
    else if (reply.error && FINAL_REFUSALS.has(reply.error.code)) await this.repository.release(voucher.code, redemption.orgId);
    return reply;
  }
}
