import { Currency } from './currency';
import { Decimal } from './money';

/** What a billing plan subscription grants its organization each period. */
export interface PlanTerms {
  readonly orgId: string;
  readonly plan: string;
  readonly amount: Decimal;
  readonly currency: Currency;
  readonly periodMs: number;
  /** Credit left at a period's end moves on up to this much; null: none rolls over. */
  readonly rolloverCap: Decimal | null;
}
