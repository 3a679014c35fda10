import { Decimal } from '@billing/domain';
import { VnpayIpn, vnpayPaid } from './vnpay';

/**
 * What the browser's return from VNPAY says, once its signature is checked: what the dashboard
 * shows, never what settles the top-up. VNPAY signs the return like the IPN, but the return
 * passes through the buyer's browser (who may stop it, replay it or keep it), so only the IPN,
 * which VNPAY calls itself, or reconciliation's querydr settles and credits.
 * - `paid`: VNPAY says the payment went through (both codes 00); the credit waits for the IPN;
 * - `cancelled`: the buyer cancelled on VNPAY's page (24);
 * - `failed`: any other code (carried as `code`);
 * - `invalid_signature`: the parameters are not VNPAY's as it signed them (tampered, or not VNPAY's at all);
 * - `unknown_order`: signed, but for no VNPAY top-up of ours;
 * - `amount_mismatch`: signed, but not the top-up's amount.
 */
export type VnpayReturnResult = 'paid' | 'cancelled' | 'failed' | 'invalid_signature' | 'unknown_order' | 'amount_mismatch';

/** VNPAY's code for a payment the buyer cancelled. */
const CANCELLED = '24';

export function vnpayReturnResult(ipn: VnpayIpn | null, topup: { readonly amount: Decimal } | null): VnpayReturnResult {
  if (!ipn) return 'invalid_signature';
  if (!topup) return 'unknown_order';
  if (!topup.amount.equals(ipn.amount)) return 'amount_mismatch';
  if (vnpayPaid(ipn)) return 'paid';
  return ipn.responseCode === CANCELLED ? 'cancelled' : 'failed';
}
