/** Reading `budgets.set`: a monthly cap for one workspace, or null to remove it. Throws InputError. */
import { Currency, Decimal, MAX_COMMAND_AMOUNT } from '@billing/domain';
import { ErrorCode, InputError } from './error-codes';
import { currency, KEY_RULE, text, TOKEN } from './request-fields';

const CAP = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

export interface BudgetSet {
  readonly name: 'budgets.set';
  readonly workspaceId: string;
  /** Null removes the workspace's cap. */
  readonly monthlyCap: Decimal | null;
  /** The currency the request names (it must be the wallet's), or null. */
  readonly currency: Currency | null;
}

/**
 * A workspace is known by its id alone (the control plane makes workspaces; the engine has no list
 * of them): an id that fails the rule of ids is refused, a well-formed one never charged yet may be
 * capped ahead of its first launch. A cap is a decimal string from 0 (no launch at all) to the
 * per-command limit.
 */
export function parseBudgetSet(input: Record<string, unknown>): BudgetSet {
  const workspaceId = text(input, 'workspaceId', TOKEN, `a workspace id: ${KEY_RULE}`);
  if (!('monthlyCap' in input)) throw new InputError(ErrorCode.MISSING_FIELD, "'monthlyCap' is required (a decimal string, or null to remove the cap)");
  const cur = input.currency === undefined || input.currency === null ? null : currency(input);
  const raw = input.monthlyCap;
  if (raw === null) return { name: 'budgets.set', workspaceId, monthlyCap: null, currency: cur };
  if (typeof raw !== 'string') throw new InputError(ErrorCode.INVALID_AMOUNT, `'monthlyCap' must be a decimal string such as "500.00" (or null), not a JSON ${typeof raw}`);
  if (!CAP.test(raw)) throw new InputError(ErrorCode.INVALID_AMOUNT, "'monthlyCap' must be a decimal string of zero or more, such as \"500.00\"; a negative cap is refused");
  const cap = new Decimal(raw);
  if (cap.greaterThan(MAX_COMMAND_AMOUNT)) throw new InputError(ErrorCode.AMOUNT_TOO_LARGE, `'monthlyCap' exceeds the limit of ${MAX_COMMAND_AMOUNT.toFixed()}`);
  return { name: 'budgets.set', workspaceId, monthlyCap: cap, currency: cur };
}
