import fc from 'fast-check';
import { Currency, CURRENCIES, minorUnits } from './currency';
import { apportionForDisplay, Decimal, fromMinorUnits, fromUnitCount, inMinorUnits, LEDGER_SCALE, minorUnit, sum, toDisplay, toMinorUnits, toPaymentText, toUnitCount } from './money';

describe('display rounding', () => {
  it('rounds half-even to the minor unit of the currency', () => {
    expect(toDisplay(new Decimal('12.345'), 'USD')).toBe('12.34');
    expect(toDisplay(new Decimal('12.355'), 'USD')).toBe('12.36');
    expect(toDisplay(new Decimal('2.5'), 'VND')).toBe('2');
    expect(toDisplay(new Decimal('3.5'), 'JPY')).toBe('4');
    expect(toDisplay(new Decimal('-1.005'), 'USD')).toBe('-1.00');
  });

  it('shows an amount that rounds to zero unsigned, never -0.00', () => {
    expect(toDisplay(new Decimal('-0.004'), 'USD')).toBe('0.00');
    expect(toDisplay(new Decimal('-0.005'), 'USD')).toBe('0.00');
    expect(toDisplay(new Decimal('-0.4'), 'VND')).toBe('0');
    expect(toDisplay(new Decimal('-0'), 'JPY')).toBe('0');
    expect(toDisplay(new Decimal('-0.006'), 'USD')).toBe('-0.01');
  });
});

const LEDGER_UNIT = new Decimal(1).dividedBy(new Decimal(10).pow(LEDGER_SCALE));


/** An amount at the ledger's scale, of either sign: any, or on, just off or near a half minor unit, or zero. */
function partArb(currency: Currency): fc.Arbitrary<Decimal> {
  const unit = minorUnit(currency);
  return fc.oneof(
    fc.bigInt({ min: -(10n ** 16n), max: 10n ** 16n }).map((n) => new Decimal(n.toString()).times(LEDGER_UNIT)),
    fc
      .tuple(fc.integer({ min: -100_000, max: 100_000 }), fc.constantFrom(0, 1, -1), fc.constantFrom('0', '0.5', '0.25', '0.75'))
      .map(([units, nudge, fraction]) => unit.times(new Decimal(units).plus(fraction)).plus(LEDGER_UNIT.times(nudge))),
    fc.constant(new Decimal(0)),
  );
}

const caseArb = fc
  .constantFrom(...CURRENCIES)
  .chain((currency) => fc.record({ currency: fc.constant(currency), parts: fc.array(partArb(currency), { minLength: 1, maxLength: 6 }) }));

describe('apportioning displayed parts', () => {
  it('keeps plan + voucher + top-up equal to the displayed total, top-up debt included', () => {
    const shown = apportionForDisplay([new Decimal('0.005'), new Decimal('0.005'), new Decimal('-0.003')], 'USD');
    expect(shown).toEqual({ total: '0.01', parts: ['0.01', '0.00', '0.00'] });
    const debt = apportionForDisplay([new Decimal('10.335'), new Decimal('5.335'), new Decimal('-2.335')], 'USD');
    expect(debt.total).toBe('13.34');
    expect(debt.parts).toEqual(['10.34', '5.34', '-2.34']);
    const vnd = apportionForDisplay([new Decimal('0.5'), new Decimal('0.5'), new Decimal('0.5')], 'VND');
    expect(vnd).toEqual({ total: '2', parts: ['1', '1', '0'] });
  });

  it('sum of the displayed parts is the displayed total, each part within one minor unit, zero stays zero', () => {
    fc.assert(
      fc.property(caseArb, ({ currency, parts }) => {
        const unit = minorUnit(currency);
        const shown = apportionForDisplay(parts, currency);
        expect(shown.total).toBe(toDisplay(sum(parts), currency));
        expect(shown.parts).toHaveLength(parts.length);
        expect(sum(shown.parts.map((s) => new Decimal(s))).equals(new Decimal(shown.total))).toBe(true);
        parts.forEach((exact, i) => {
          const displayed = new Decimal(shown.parts[i]);
          expect(displayed.minus(exact).abs().lessThan(unit)).toBe(true);
          expect(displayed.decimalPlaces()).toBeLessThanOrEqual(minorUnits(currency));
          if (exact.isZero()) expect(shown.parts[i]).toBe(toDisplay(exact, currency));
          // Never of the opposite sign: a small credit does not show as a debt, nor the reverse.
          expect(displayed.isZero() || displayed.isNegative() === exact.isNegative()).toBe(true);
          expect(shown.parts[i].startsWith('-0') && displayed.isZero()).toBe(false);
        });
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('payment amounts', () => {
  it("knows each currency's smallest unit", () => {
    expect(minorUnit('USD').toFixed()).toBe('0.01');
    expect(minorUnit('VND').toFixed()).toBe('1');
    expect(minorUnit('JPY').toFixed()).toBe('1');
  });

  it("tells an amount in whole minor units from one with more decimals than the currency has", () => {
    expect(inMinorUnits(new Decimal('12.34'), 'USD')).toBe(true);
    expect(inMinorUnits(new Decimal('12.345'), 'USD')).toBe(false);
    expect(inMinorUnits(new Decimal('100'), 'VND')).toBe(true);
    expect(inMinorUnits(new Decimal('100.5'), 'JPY')).toBe(false);
  });

  it("writes a payment amount fixed to the currency's minor unit", () => {
    expect(toPaymentText(new Decimal('12.5'), 'USD')).toBe('12.50');
    expect(toPaymentText(new Decimal('250000'), 'VND')).toBe('250000');
    expect(toPaymentText(new Decimal('12.345'), 'USD')).toBe('12.34');
  });

  it('counts an amount in minor units, and a count of minor units back into an amount', () => {
    expect(toMinorUnits(new Decimal('12.50'), 'USD')).toBe('1250');
    expect(toMinorUnits(new Decimal('5000'), 'JPY')).toBe('5000');
    expect(() => toMinorUnits(new Decimal('12.345'), 'USD')).toThrow(/not a whole number/);
    expect(fromMinorUnits(1250, 'USD')?.toFixed()).toBe('12.5');
    expect(fromMinorUnits('5000', 'VND')?.toFixed()).toBe('5000');
    expect(fromMinorUnits('-1', 'USD')).toBeNull();
    expect(fromMinorUnits(1.5, 'USD')).toBeNull();
  });

  it("counts in a provider's own fixed-point units (VNPAY's hundredths of a dong)", () => {
    expect(toUnitCount(new Decimal('250000'), 2)).toBe('25000000');
    expect(toUnitCount(new Decimal('0.001'), 2)).toBeNull();
    expect(fromUnitCount('25000000', 2)?.toFixed()).toBe('250000');
    expect(fromUnitCount(25000000, 2)).toBeNull();
    expect(fromUnitCount('', 2)).toBeNull();
    expect(fromUnitCount('1'.repeat(21), 2)).toBeNull();
  });
});
