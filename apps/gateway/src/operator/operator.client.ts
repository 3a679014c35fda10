import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ErrorCode, errorReply, OPERATOR_HEADER, REQUEST_ID_HEADER, Subjects, VIA_HEADER } from '@billing/contracts';
import { headers, NatsConnection } from 'nats';
import { GatewayConfig } from '../config';
import { GATEWAY_CONFIG } from '../tokens';
import { OperatorRequest } from './operator.guard';

export const GATEWAY_OPERATOR_NATS = Symbol('GatewayOperatorNats');

/**
 * The operator API's way to the engine: its own NATS connection as the user `operator` (the only
 * one NATS lets send admin commands and money by hand), naming on each request the operator whose
 * token the guard verified, the request id, and `Billing-Via: http`. The engine audits each one.
 */
@Injectable()
export class OperatorClient implements OnApplicationShutdown {
  private readonly subjects: Subjects;

  constructor(@Inject(GATEWAY_OPERATOR_NATS) private readonly nc: NatsConnection, @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {
    this.subjects = new Subjects(config.subjectPrefix);
  }

  wallet(who: OperatorRequest, orgId: string, command: 'grant' | 'topup' | 'reverse' | 'ladder.set' | 'ladder.get', body: unknown): Promise<any> {
    return this.send(who, this.subjects.walletCommand(orgId, command), body);
  }

  admin(who: OperatorRequest, command: string, body: unknown): Promise<any> {
    return this.send(who, this.subjects.admin(command), body);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.nc.drain().catch(() => undefined);
  }

  private async send(who: OperatorRequest, subject: string, body: unknown): Promise<any> {
    let payload: string;
    try {
      payload = body === undefined ? '' : JSON.stringify(body);
    } catch {
      return errorReply(ErrorCode.MALFORMED_JSON, 'the body cannot be read as a JSON object');
    }
    const h = headers();
    h.set(OPERATOR_HEADER, who.operator.operator);
    h.set(REQUEST_ID_HEADER, who.requestId);
    h.set(VIA_HEADER, 'http');
    try {
      const msg = await this.nc.request(subject, Buffer.from(payload), { timeout: this.config.requestTimeoutMs, headers: h });
      return JSON.parse(Buffer.from(msg.data).toString('utf8'));
    } catch (error) {
      return errorReply(ErrorCode.UNAVAILABLE, `the billing engine did not answer: ${(error as Error).message}`);
    }
  }
}
