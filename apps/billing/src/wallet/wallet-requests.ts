import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  ADMIN_COMMANDS,
  auditedOrgId,
  auditParams,
  BalanceSnapshot,
  entryView,
  ErrorCode,
  errorReply,
  InputError,
  isAuditedWalletCommand,
  OperatorIdentity,
  operatorIdentity,
  parseAuditQuery,
  parseOrgId,
  parsePlanCancel,
  parsePlanSubscription,
  parseVoucherCode,
  parseWalletRequest,
  Subjects,
  usageView,
  WALLET_COMMANDS,
} from '@billing/contracts';
import { PlanService } from '../plans/plan.service';
import { VoucherService } from '../vouchers/voucher.service';
import { Decimal, toExact } from '@billing/domain';
import { Match, Msg } from 'nats';
import { OperatorAudit } from '../operators/operator-audit';
import { BillingConfig } from '../config';
import { BillingMetrics } from '../billing.metrics';
import { CONFIG } from '../tokens';
import { WalletService } from './wallet.service';
import { WalletMessage } from './wallet-message';
import { Ownership, Route } from '../ownership/ownership.service';
import { hopsOf, MAX_HOPS, Peers } from '../ownership/peers';

const MOVING_MESSAGE = 'is moving between engine processes; retry shortly with the same idempotency key';
/**
 * A request for an organization whose partition is being handed over or taken over waits this
 * long, looking again every MOVE_POLL_MS, before it is answered UNAVAILABLE: a planned move takes
 * milliseconds, so clients do not see it.
 */
const MOVE_WAIT_MS = 2000;
const MOVE_POLL_MS = 20;
/** Requests waiting for a move at most; past it they are answered UNAVAILABLE at once. */
const MAX_WAITING_FOR_MOVE = 10_000;

/** An answer to send, or undefined: the request was relayed to another process, which answers it. */
export type Answer = object | undefined;

/**
 * The wallet's requests, as WalletController and NodeController receive them: plain JSON on
 * `<prefix>.wallet.<orgId>.<command>` and `<prefix>.admin.<command>`, answered in plain JSON.
 * Input is checked here, before any actor sees it, so bad input changes nothing. Every process
 * of the queue group may receive any request; one for an organization another process owns is
 * forwarded there (see Ownership).
 */
@Injectable()
export class WalletRequests {
  private readonly logger = new Logger('WalletRequests');
  private waitingForMove = 0;

  constructor(
    @Inject(CONFIG) private readonly config: BillingConfig,
    private readonly subjects: Subjects,
    private readonly wallets: WalletService,
    private readonly metrics: BillingMetrics,
    private readonly vouchers: VoucherService,
    private readonly plans: PlanService,
    private readonly ownership: Ownership,
    private readonly peers: Peers,
    private readonly audit: OperatorAudit,
  ) {}

  /** `<prefix>.wallet.<orgId>.<command>` from a client. */
  wallet(msg: Msg): Promise<Answer> {
    return new Promise((done) => this.handle(msg, msg.subject, 0, done));
  }

  /** `<prefix>.admin.<command>` from an operator. */
  admin(msg: Msg): Promise<Answer> {
    return new Promise((done) => this.handleAdmin(msg, msg.subject.slice(this.subjects.admin('').length), 0, done));
  }

  /** A request another process forwarded here (see Peers). */
  forwarded(subject: string, msg: Msg): Promise<Answer> {
    return new Promise((done) => this.handle(msg, subject, Math.max(1, hopsOf(msg)), done));
  }

  /** An admin request another process forwarded here. */
  forwardedAdmin(command: string, msg: Msg): Promise<Answer> {
    return new Promise((done) => this.handleAdmin(msg, command, Math.max(1, hopsOf(msg)), done));
  }

  /**
   * A request for an organization not served here: forwarded to its owner, unless it was
   * forwarded as often as it may be (MAX_HOPS) or nobody serves it right now. `hops`: how many
   * times it was forwarded to get here.
   */
  private elsewhere(route: Exclude<Route, { kind: 'here' }>, msg: Msg, rest: string, orgId: string, hops: number, reply: (body: Answer) => void): void {
    if (route.kind === 'peer' && hops < MAX_HOPS) {
      this.peers.relay(rest.split('.')[0], route.node, rest, msg, `organization ${orgId}`, hops + 1);
      reply(undefined);
    } else reply(errorReply(ErrorCode.UNAVAILABLE, `organization ${orgId} ${MOVING_MESSAGE}`));
  }

  /**
   * `billing.admin.<command>`. Every command that acts names its operator and is audited where it
   * is done (a plan subscription at the process serving its organization, which audits what was
   * forwarded to it: the headers travel with it); `audit.list` reads the audit.
   */
  private handleAdmin(msg: Msg, command: string, hops: number, reply: (body: Answer) => void): void {
    const unavailable = () => errorReply(ErrorCode.UNAVAILABLE, 'not stored; retry');
    try {
      if (!(ADMIN_COMMANDS as readonly string[]).includes(command)) {
        reply(errorReply(ErrorCode.UNKNOWN_COMMAND, `unknown admin command '${command}'; known: ${ADMIN_COMMANDS.join(', ')}`));
        return;
      }
      if (command === 'audit.list') {
        const query = parseAuditQuery(msg.data);
        this.audit.list(query).then(
          (entries) => reply({ ok: true, entries, nextCursor: entries.length === query.limit ? entries[entries.length - 1].seq : null }),
          (error) => {
            this.logger.warn({ msg: 'the audit could not be read', error: String((error as Error)?.message ?? error) });
            reply(errorReply(ErrorCode.UNAVAILABLE, 'the audit could not be read; retry'));
          },
        );
        return;
      }
      const identity = this.operatorOf(msg);
      const params = auditParams(msg.data);
      let act: () => Promise<object>;
      if (command === 'vouchers.create') act = () => this.vouchers.create(parseVoucherCode(msg.data)).catch(unavailable);
      else if (command === 'plans.cancel') act = () => this.plans.cancel(parsePlanCancel(msg.data).subscriptionId).catch(unavailable);
      else {
        // Its first period is granted at once, by the wallet actor of its organization: done where that actor lives.
        let spec: ReturnType<typeof parsePlanSubscription> | null = null;
        try {
          spec = parsePlanSubscription(msg.data);
        } catch (error) {
          if (!(error instanceof InputError)) throw error;
        }
        if (spec) {
          const route = this.ownership.route(spec.orgId);
          if (route.kind !== 'here') {
            this.elsewhere(route, msg, `admin.${command}`, spec.orgId, hops, reply);
            return;
          }
        }
        // Refused input is refused (and audited) here, the same InputError again.
        act = () => this.plans.subscribe(spec ?? parsePlanSubscription(msg.data)).catch(unavailable);
      }
      void this.audit.run({ ...identity, command: `admin.${command}`, orgId: auditedOrgId(params), params }, act).then(reply);
    } catch (error) {
      reply(error instanceof InputError ? errorReply(error.code, error.message) : errorReply(ErrorCode.INTERNAL, 'internal error'));
    }
  }

  /** Who asks for an operator command: the headers (see `operatorIdentity`). */
  private operatorOf(msg: Msg): OperatorIdentity {
    return operatorIdentity((name) => (msg.headers ? msg.headers.values(name, Match.IgnoreCase) : []), OperatorAudit.newRequestId);
  }

  private mailboxFull(orgId: string): object {
    return errorReply(ErrorCode.MAILBOX_FULL, `organization ${orgId} has ${this.config.mailboxCapacity} commands waiting; retry later`);
  }

  private handle(msg: Msg, subject: string, hops: number, done: (body: Answer) => void, waitedMs = 0): void {
    let command = 'unknown';
    const reply = (body: Answer) => {
      if (body !== undefined) {
        const { ok, error } = body as { ok?: boolean; error?: { code: string } };
        this.metrics.commands.inc({ command, outcome: ok ? 'ok' : (error?.code ?? 'error') });
      }
      done(body);
    };
    try {
      const target = this.subjects.splitWalletSubject(subject);
      if (!target) throw new InputError(ErrorCode.UNKNOWN_COMMAND, `'${subject}' is not a wallet command subject`);
      command = (WALLET_COMMANDS as readonly string[]).includes(target.command) ? target.command : 'unknown';
      const orgId = parseOrgId(target.orgId);
      const route = this.ownership.route(orgId);
      if (route.kind === 'moving' && waitedMs < MOVE_WAIT_MS && this.waitingForMove < MAX_WAITING_FOR_MOVE) {
        this.waitingForMove++;
        setTimeout(() => {
          this.waitingForMove--;
          this.handle(msg, subject, hops, done, waitedMs + MOVE_POLL_MS);
        }, MOVE_POLL_MS);
        return;
      }
      if (route.kind !== 'here') {
        this.elsewhere(route, msg, `wallet.${orgId}.${target.command}`, orgId, hops, reply);
        return;
      }
      if (isAuditedWalletCommand(target.command)) {
        // Money moved by hand: done only once the audit holds it (see OperatorAudit).
        const identity = this.operatorOf(msg);
        const params = auditParams(msg.data);
        const act = () =>
          new Promise<object>((resolve) => {
            const parsed = parseWalletRequest(target.command, msg.data) as WalletMessage['parsed'];
            if (!this.wallets.tell(orgId, { parsed, reply: resolve })) resolve(this.mailboxFull(orgId));
          });
        void this.audit.run({ ...identity, command: `wallet.${target.command}`, orgId, params }, act).then(reply);
        return;
      }
      const parsed = parseWalletRequest(target.command, msg.data);
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
        // The display amounts are rounded to the wallet's currency, which its actor knows.
        Promise.all([this.wallets.usage(orgId, parsed.workspaceId, parsed.from, parsed.to), this.wallets.ask(orgId, { name: 'balance' })]).then(
          ([rows, answer]) => {
            const balance = answer as { ok: boolean; balance?: BalanceSnapshot };
            if (!balance.ok || !balance.balance) return reply(answer);
            const exact = rows.map((r) => ({ ...r, amount: toExact(new Decimal(r.amount)), gpuHours: toExact(new Decimal(r.gpuHours)) }));
            reply({ ok: true, from: parsed.from.toISOString(), to: parsed.to.toISOString(), ...usageView(exact, balance.balance.currency) });
          },
          () => reply(errorReply(ErrorCode.UNAVAILABLE, 'usage could not be read; retry')),
        );
        return;
      }
      if (!this.wallets.tell(orgId, { parsed, reply })) reply(this.mailboxFull(orgId));
    } catch (error) {
      if (error instanceof InputError) reply(errorReply(error.code, error.message));
      else {
        this.logger.error({ msg: 'wallet request failed', subject, error: String((error as Error)?.stack ?? error) });
        reply(errorReply(ErrorCode.INTERNAL, 'internal error'));
      }
    }
  }
}
