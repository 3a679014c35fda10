import { Provider } from '@nestjs/common';
import { connectNats } from '@billing/messaging';
import { GatewayConfig } from '../config';
import { GATEWAY_OPERATOR_NATS, OperatorClient } from './operator.client';
import { OperatorController } from './operator.controller';
import { OperatorGuard, OperatorStats } from './operator.guard';
import { PaymentsOperatorController } from '../payments/payments-operator.controller';

/** The operators' routes: money by hand, vouchers, plans and the audit; paid top-ups' refunds and mismatches. */
export const OPERATOR_CONTROLLERS = [OperatorController, PaymentsOperatorController];

/** The operator API's pieces: its NATS connection (as the user `operator`), client, guard and counts. */
export function operatorProviders(config: GatewayConfig, stats: OperatorStats): Provider[] {
  return [
    { provide: GATEWAY_OPERATOR_NATS, useFactory: () => connectNats(config.natsUrl, 'billing-gateway-operator', config.operators.nats) },
    { provide: OperatorStats, useValue: stats },
    OperatorClient,
    OperatorGuard,
  ];
}
