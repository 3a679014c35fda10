/**
 * The alert service's own reply codes, beside the wallet's (`ErrorCode` in @billing/contracts),
 * for what only a webhook registration can get wrong.
 */
export const AlertsErrorCode = {
  /** The URL is `http` while the service runs with NODE_ENV=production. */
  WEBHOOK_HTTPS_REQUIRED: 'WEBHOOK_HTTPS_REQUIRED',
  /** The host is, or resolves to, an address that is not public (loopback, private, link-local, metadata, ...), or is an internal name. */
  WEBHOOK_TARGET_FORBIDDEN: 'WEBHOOK_TARGET_FORBIDDEN',
  /** The host name does not resolve. */
  WEBHOOK_HOST_NOT_FOUND: 'WEBHOOK_HOST_NOT_FOUND',
} as const;
export type AlertsErrorCode = (typeof AlertsErrorCode)[keyof typeof AlertsErrorCode];

/** A webhook URL refused for where it points; carries its reply code. */
export class WebhookTargetRefused extends Error {
  constructor(readonly code: AlertsErrorCode, message: string) {
    super(message);
  }
}
