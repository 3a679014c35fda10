import { ParsedCommand } from '@billing/contracts';
import { ResourceCharge } from '@billing/domain';

/** Work for a wallet actor that does not come from a NATS request. */
export type InternalCommand =
  /** Write off what expired (the actor's own timer, or the expiry sweep for passivated wallets). */
  | { readonly name: 'expire' }
  /** Settle a resource's charges, as its resource actor computed them. */
  | { readonly name: 'meter'; readonly charge: ResourceCharge };

/** A wallet command on its way through an actor's mailbox, with the way to answer it. */
export interface WalletMessage {
  readonly parsed: Exclude<ParsedCommand, { name: 'ledger' } | { name: 'usage' } | { name: 'resources' } | { name: 'redeem' }> | InternalCommand;
  readonly reply: (body: object) => void;
}
