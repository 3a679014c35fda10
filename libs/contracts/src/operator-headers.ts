/**
 * Operator actions on the bus (README, "Operators and the audit"): who asks is named in a NATS
 * header, since the body is the command's own and its meaning (the idempotency fingerprint) must
 * not change with who sends it. The header is as trustworthy as the NATS user `operator`, the only
 * one whose permissions allow these subjects.
 */
export const OPERATOR_HEADER = 'Billing-Operator';
/** The request id the audit row carries; one is made up when it is missing. */
export const REQUEST_ID_HEADER = 'Billing-Request-Id';
/** `http` when the gateway's operator API sent the request, else `nats` (a tool on the bus). */
export const VIA_HEADER = 'Billing-Via';
