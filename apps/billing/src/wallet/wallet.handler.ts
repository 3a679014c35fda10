import { Inject, Injectable, Logger } from '@nestjs/common';
import { entryView, ErrorCode, errorReply, InputError, parseOrgId, parsePlanCancel, parsePlanSubscription, parseVoucherCode, parseWalletCommand, Subjects, WALLET_COMMANDS } from '@billing/contracts';
import { PlanService } from '../plans/plan.service';
import { VoucherService } from '../vouchers/voucher.service';
import { Decimal, toExact } from '@billing/domain';
import { Msg, NatsConnection, Subscription } from 'nats';
import { BillingConfig } from '../config';
import { BillingMetrics } from '../billing.metrics';
import { CONFIG, NATS } from '../tokens';
import { WalletService } from './wallet.service';

/**
 * The wallet's NATS face: plain JSON requests on `<prefix>.wallet.<orgId>.<command>`, plain
 * JSON replies. Input is checked here, before any actor sees it, so bad input changes nothing.
 */
@Injectable()
export class WalletNatsHandler {
  private readonly logger = new Logger('WalletNatsHandler');
  private subscription: Subscription | null = null;
  private admin: Subscription | null = null;

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(CONFIG) private readonly config: BillingConfig,
    private readonly subjects: Subjects,
    private readonly wallets: WalletService,
    private readonly metrics: BillingMetrics,
    private readonly vouchers: VoucherService,
    private readonly plans: PlanService,
  ) {}

  listen(): void {
    this.admin = this.nc.subscribe(this.subjects.admin('>'), {
      queue: this.config.queueGroup,
      callback: (_error, msg) => {
        const reply = (body: object) => msg.reply && msg.respond(Buffer.from(JSON.stringify(body)));
        const unavailable = () => reply(errorReply(ErrorCode.UNAVAILABLE, 'not stored; retry'));
        try {
          const command = msg.subject.slice(this.subjects.admin('').length);
          if (command === 'vouchers.create') this.vouchers.create(parseVoucherCode(msg.data)).then(reply, unavailable);
          else if (command === 'plans.subscribe') this.plans.subscribe(parsePlanSubscription(msg.data)).then(reply, unavailable);
          else if (command === 'plans.cancel') this.plans.cancel(parsePlanCancel(msg.data).subscriptionId).then(reply, unavailable);
          else reply(errorReply(ErrorCode.UNKNOWN_COMMAND, `unknown admin command '${command}'; known: vouchers.create, plans.subscribe, plans.cancel`));
        } catch (error) {
          reply(error instanceof InputError ? errorReply(error.code, error.message) : errorReply(ErrorCode.INTERNAL, 'internal error'));
        }
      },
    });
    this.subscription = this.nc.subscribe(this.subjects.walletWildcard(), {
      queue: this.config.queueGroup,
      callback: (error, msg) => {
        if (error) {
          this.logger.error({ msg: 'wallet subscription error', error: String(error) });
          return;
        }
        this.handle(msg);
      },
    });
  }

  async drain(): Promise<void> {
    await this.admin?.drain();
    await this.subscription?.drain();
  }

  private handle(msg: Msg): void {
    let command = 'unknown';
    const reply = (body: object) => {
      const { ok, error } = body as { ok?: boolean; error?: { code: string } };
      this.metrics.commands.inc({ command, outcome: ok ? 'ok' : (error?.code ?? 'error') });
      if (msg.reply) msg.respond(Buffer.from(JSON.stringify(body)));
    };
    try {
      const target = this.subjects.parseWalletCommand(msg.subject);
      if (!target) throw new InputError(ErrorCode.UNKNOWN_COMMAND, `'${msg.subject}' is not a wallet command subject`);
      command = (WALLET_COMMANDS as readonly string[]).includes(target.command) ? target.command : 'unknown';
      const orgId = parseOrgId(target.orgId);
      const parsed = parseWalletCommand(target.command, msg.data);
      if (parsed.name === 'ledger') {
        this.wallets.ledgerPage(orgId, parsed.cursor, parsed.limit).then(
          (entries) => reply({ ok: true, entries: entries.map(entryView), nextCursor: entries.length === parsed.limit ? entries[entries.length - 1].seq : null }),
          () => reply(errorReply(ErrorCode.UNAVAILABLE, 'the ledger could not be read; retry')),
        );
        return;
      }
      if (parsed.name === 'resources') {
        this.wallets.resources(orgId).then(
          (resources) => reply({ ok: true, resources }),
          () => reply(errorReply(ErrorCode.UNAVAILABLE, 'resources could not be read; retry')),
        );
        return;
      }
      if (parsed.name === 'redeem') {
        this.vouchers.redeem(orgId, parsed.code, parsed.idempotencyKey).then(reply, () => reply(errorReply(ErrorCode.UNAVAILABLE, 'the voucher could not be redeemed now; retry with the same idempotency key')));
        return;
      }
      if (parsed.name === 'usage') {
        this.wallets.usage(orgId, parsed.workspaceId, parsed.from, parsed.to).then(
          (rows) => reply({ ok: true, from: parsed.from.toISOString(), to: parsed.to.toISOString(), usage: rows.map((r) => ({ ...r, amount: toExact(new Decimal(r.amount)), gpuHours: toExact(new Decimal(r.gpuHours)) })) }),
          () => reply(errorReply(ErrorCode.UNAVAILABLE, 'usage could not be read; retry')),
        );
        return;
      }
      if (!this.wallets.tell(orgId, { parsed, reply })) {
        reply(errorReply(ErrorCode.MAILBOX_FULL, `organization ${orgId} has ${this.config.mailboxCapacity} commands waiting; retry later`));
      }
    } catch (error) {
      if (error instanceof InputError) reply(errorReply(error.code, error.message));
      else {
        this.logger.error({ msg: 'wallet request failed', subject: msg.subject, error: String((error as Error)?.stack ?? error) });
        reply(errorReply(ErrorCode.INTERNAL, 'internal error'));
      }
    }
  }
}
