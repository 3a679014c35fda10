import { headers, MsgHdrs, NatsConnection, RequestOptions } from 'nats';
import { OPERATOR_HEADER, REQUEST_ID_HEADER } from '../../libs/contracts/src/operator-headers';

/** The operator the tests' operator tools act as. */
export const TEST_OPERATOR = 'test-operator';

/** Headers of an operator command: who asks, and optionally the request id to audit it with. */
export function operatorHeaders(operator = TEST_OPERATOR, requestId?: string): MsgHdrs {
  const h = headers();
  h.set(OPERATOR_HEADER, operator);
  if (requestId !== undefined) h.set(REQUEST_ID_HEADER, requestId);
  return h;
}

/**
 * An operator's tool names its operator on every request, as `nats req -H 'Billing-Operator:alice'`
 * does (the engine refuses admin commands and money by hand without one). A request that brings
 * its own headers keeps them: a test of the refusal sends `headers()` empty.
 */
export function asNamedOperator(nc: NatsConnection, operator = TEST_OPERATOR): NatsConnection {
  const request = nc.request.bind(nc);
  nc.request = (subject: string, data?: Uint8Array, opts?: RequestOptions) => request(subject, data, { timeout: 10_000, ...opts, headers: opts?.headers ?? operatorHeaders(operator) } as RequestOptions);
  return nc;
}
