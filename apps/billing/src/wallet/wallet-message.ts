import { ParsedCommand } from '@billing/contracts';

/** A wallet command on its way through an actor's mailbox, with the way to answer it. */
export interface WalletMessage {
  readonly parsed: Exclude<ParsedCommand, { name: 'ledger' }> | { readonly name: 'expire' };
  readonly reply: (body: object) => void;
}
