import { amount as readAmount, ErrorCode, InputError, required } from '@billing/contracts';
import { Currency, CURRENCIES, Decimal, isCurrency, minorUnits } from '@billing/domain';
import { TOPUP_PROVIDERS, TopupProvider } from '@billing/persistence';

/** The currencies each provider takes: VNPAY is VND only, PayPal has no VND. */
export const PROVIDER_CURRENCIES: Readonly<Record<TopupProvider, readonly Currency[]>> = {
  stripe: ['USD', 'VND', 'JPY'],
  vnpay: ['VND'],
  paypal: ['USD', 'JPY'],
};

export interface TopupRequest {
  readonly amount: Decimal;
  readonly currency: Currency;
  readonly provider: TopupProvider;
}

/** Reads `{amount, currency, provider}`; throws InputError. A payment is in the currency's minor unit. */
export function parseTopupRequest(body: unknown): TopupRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InputError(ErrorCode.MALFORMED_JSON, 'the body must be a JSON object');
  const input = body as Record<string, unknown>;
  const provider = required(input, 'provider');
  if (typeof provider !== 'string' || !(TOPUP_PROVIDERS as readonly string[]).includes(provider)) {
    throw new InputError(ErrorCode.INVALID_FIELD, `'provider' must be one of ${TOPUP_PROVIDERS.join(', ')}`);
  }
  const currency = required(input, 'currency');
  if (!isCurrency(currency)) throw new InputError(ErrorCode.UNKNOWN_CURRENCY, `'currency' must be one of ${CURRENCIES.join(', ')}`);
  const accepted = PROVIDER_CURRENCIES[provider as TopupProvider];
  if (!accepted.includes(currency)) throw new InputError(ErrorCode.UNKNOWN_CURRENCY, `${provider} takes ${accepted.join(', ')}, not ${currency}`);
  return { amount: readAmount(input, 'amount', minorUnits(currency)), currency, provider: provider as TopupProvider };
}
