import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ErrorCode, errorReply, Subjects } from '@billing/contracts';
import { Msg } from 'nats';
import { BillingConfig } from '../config';
import { LifecycleConsumer } from '../resources/lifecycle.consumer';
import { CONFIG, ROUTES } from '../tokens';
import { Answer, WalletRequests } from '../wallet/wallet-requests';

/**
 * What this process serves its peers on `<prefix>.node.<nodeId>.…` (the `node` route): `ping`
 * (they probe it to tell a live process from a gone one), and the requests they forward to the
 * owner of an organization (see Peers): `wallet.<orgId>.<command>`, `admin.<command>`, and
 * `lifecycle` (its original subject in the `Billing-Subject` header).
 */
@Controller()
export class NodeController {
  private readonly head: string;

  constructor(
    @Inject(CONFIG) private readonly config: BillingConfig,
    private readonly subjects: Subjects,
    private readonly wallet: WalletRequests,
    private readonly lifecycle: LifecycleConsumer,
  ) {
    this.head = subjects.node(config.nodeId, '');
  }

  @MessagePattern(ROUTES.node)
  node(@Payload() msg: Msg): Promise<Answer> | Answer {
    const rest = msg.subject.slice(this.head.length);
    if (rest === 'ping') return { ok: true, node: this.config.nodeId };
    if (rest.startsWith('wallet.')) return this.wallet.forwarded(`${this.subjects.prefix}.${rest}`, msg);
    if (rest.startsWith('admin.')) return this.wallet.forwardedAdmin(rest.slice('admin.'.length), msg);
    if (rest === 'lifecycle') return this.lifecycle.applyForwarded(msg);
    return errorReply(ErrorCode.UNKNOWN_COMMAND, `'${rest}' is not served between engine processes`);
  }
}
