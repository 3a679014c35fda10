import { PaypalCertificateSource, PaypalTransmission, PAYPAL_TRANSMISSION_TOLERANCE_SECONDS, verifyPaypalTransmission } from './paypal';
import { ProviderError } from './provider-call';
import { PayPalClient } from './provider-clients';

/** How a PayPal webhook is verified: PAYPAL_WEBHOOK_VERIFICATION, `local` (default) or `api`. */
export type PaypalWebhookVerification = 'local' | 'api';
export const PAYPAL_WEBHOOK_VERIFICATIONS: readonly PaypalWebhookVerification[] = ['local', 'api'];

/** Why a transmission is not PayPal's, or null if it is. */
export interface PaypalWebhookVerifier {
  verify(transmission: PaypalTransmission, rawBody: Buffer, now: Date): Promise<string | null>;
}

export const PAYPAL_WEBHOOK_VERIFIER = Symbol('PaypalWebhookVerifier');

/** Here: the signature against PayPal's certificate (paypal.ts), no call to PayPal per webhook. */
export class LocalPaypalWebhookVerifier implements PaypalWebhookVerifier {
  constructor(
    private readonly webhookId: string,
    private readonly certificates: PaypalCertificateSource,
  ) {}

  verify(transmission: PaypalTransmission, rawBody: Buffer, now: Date): Promise<string | null> {
    return verifyPaypalTransmission(transmission, rawBody, this.webhookId, this.certificates, now);
  }
}

/**
 * PayPal checks it (`POST /v1/notifications/verify-webhook-signature`): for deployments that
 * would rather not keep the certificate logic. The transmission time is still held to our
 * tolerance first (PayPal's answer says the signature is good, not that the delivery is fresh),
 * and a body that is not JSON is refused before any call. When PayPal cannot be asked, the
 * webhook is refused like a bad signature and PayPal delivers it again later.
 */
export class ApiPaypalWebhookVerifier implements PaypalWebhookVerifier {
  constructor(
    private readonly webhookId: string,
    private readonly paypal: PayPalClient,
    private readonly toleranceSeconds = PAYPAL_TRANSMISSION_TOLERANCE_SECONDS,
  ) {}

  async verify(transmission: PaypalTransmission, rawBody: Buffer, now: Date): Promise<string | null> {
    const sentAt = Date.parse(transmission.transmissionTime);
    if (Number.isNaN(sentAt)) return 'unreadable transmission time';
    if (Math.abs(now.getTime() - sentAt) > this.toleranceSeconds * 1000) return 'transmission time outside the tolerance';
    try {
      const parsed: unknown = JSON.parse(rawBody.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'the body is not a JSON object';
    } catch {
      return 'the body is not JSON';
    }
    try {
      return (await this.paypal.verifyWebhookSignature({ transmission, webhookId: this.webhookId, rawBody })) ? null : 'PayPal answered FAILURE';
    } catch (error) {
      if (error instanceof ProviderError) return `PayPal could not be asked: ${error.message}`;
      throw error;
    }
  }
}
