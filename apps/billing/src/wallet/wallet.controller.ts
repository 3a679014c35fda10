import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { Msg } from 'nats';
import { ROUTES } from '../tokens';
import { Answer, WalletRequests } from './wallet-requests';

/** The wallet's requests from clients (`<prefix>.wallet.<orgId>.<command>`) and operators (`<prefix>.admin.<command>`), on NATS. */
@Controller()
export class WalletController {
  constructor(private readonly requests: WalletRequests) {}

  @MessagePattern(ROUTES.wallet)
  wallet(@Payload() msg: Msg): Promise<Answer> {
    return this.requests.wallet(msg);
  }

  @MessagePattern(ROUTES.admin)
  admin(@Payload() msg: Msg): Promise<Answer> {
    return this.requests.admin(msg);
  }
}
