/** Business refusals the domain can give; each is a code in the reply protocol, not a bug. */
export const DomainRefusalCode = {
  CURRENCY_LOCKED: 'CURRENCY_LOCKED',
  CURRENCY_MISMATCH: 'CURRENCY_MISMATCH',
  NO_BILLING_CURRENCY: 'NO_BILLING_CURRENCY',
  GRANT_ALREADY_EXPIRED: 'GRANT_ALREADY_EXPIRED',
} as const;
export type DomainRefusalCode = (typeof DomainRefusalCode)[keyof typeof DomainRefusalCode];

export interface Refusal {
  readonly code: string;
  readonly message: string;
}

export function refusal(code: string, message: string): Refusal {
  return { code, message };
}
