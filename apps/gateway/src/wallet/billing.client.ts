import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, errorReply, Subjects } from '@billing/contracts';
import { NatsConnection } from 'nats';
import { GatewayConfig } from '../config';
import { GATEWAY_CONFIG, GATEWAY_NATS } from '../tokens';

/** The gateway holds no money logic: every wallet question goes to the billing engine over NATS. */
@Injectable()
export class BillingClient {
  readonly subjects: Subjects;

  constructor(@Inject(GATEWAY_NATS) private readonly nc: NatsConnection, @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {
    this.subjects = new Subjects(config.subjectPrefix);
  }

  /** The engine's JSON reply, or an UNAVAILABLE error reply if it does not answer in time. */
  request(orgId: string, command: string, body?: object): Promise<any> {
    return this.send(this.subjects.walletCommand(orgId, command), body);
  }

  /** The alert service's webhook settings of an organization (`<prefix>.alerts.<orgId>.webhooks.get|set`). */
  webhooks(orgId: string, command: 'get' | 'set', body?: object): Promise<any> {
    return this.send(`${this.config.subjectPrefix}.alerts.${orgId}.webhooks.${command}`, body);
  }

  private async send(subject: string, body?: object): Promise<any> {
    let payload: string;
    try {
      payload = body === undefined ? '' : JSON.stringify(body);
    } catch {
      // A body nested deeper than the serializer can follow is bad input, not an engine outage.
      return errorReply(ErrorCode.MALFORMED_JSON, 'the body cannot be read as a JSON object');
    }
    try {
      const msg = await this.nc.request(subject, Buffer.from(payload), { timeout: this.config.requestTimeoutMs });
      return JSON.parse(Buffer.from(msg.data).toString('utf8'));
    } catch (error) {
      return errorReply(ErrorCode.UNAVAILABLE, `the billing engine did not answer: ${(error as Error).message}`);
    }
  }
}
