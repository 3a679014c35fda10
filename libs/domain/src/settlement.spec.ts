import fc from 'fast-check';
import { Decimal, sum, ZERO } from './money';
import {
  applyFact,
  DisputeStage,
  emptySettlement,
  heldInLedger,
  refundableAmount,
  LedgerChange,
  MAX_SETTLEMENT_FACTS,
  Settlement,
  SettlementFact,
  SettlementInput,
  SettlementStatus,
  viewOf,
} from './settlement';

const ID = '6f1c1b9e-0000-4000-8000-000000000001';
const t0 = Date.parse('2026-12-01T10:00:00Z');
const at = (seconds: number) => new Date(t0 + seconds * 1000);
const usd = (cents: number) => new Decimal(cents).dividedBy(100);
const fact = (key: string, input: SettlementInput, seconds: number | null = null): SettlementFact => ({ key, at: seconds === null ? null : at(seconds), input });

const captured = (key: string, cents: number, seconds: number | null = null) => fact(key, { kind: 'captured', amount: usd(cents), captureRef: 'ch_1' }, seconds);
const failed = (key: string, seconds: number | null = null) => fact(key, { kind: 'attempt_failed', reason: 'card declined' }, seconds);
const refundTotal = (key: string, cents: number, seconds: number) => fact(key, { kind: 'refund', refundId: null, amount: null, counts: true, total: usd(cents) }, seconds);
const refundOne = (key: string, refundId: string, cents: number, seconds: number, counts = true) => fact(key, { kind: 'refund', refundId, amount: usd(cents), counts, total: null }, seconds);
const dispute = (key: string, disputeId: string, cents: number, stage: DisputeStage, seconds: number) => fact(key, { kind: 'dispute', disputeId, amount: usd(cents), stage }, seconds);

/** Applies the facts in the order given; checks at every step what must hold at every step. */
function deliver(facts: readonly SettlementFact[]): { settlement: Settlement; emitted: LedgerChange[] } {
  let settlement = emptySettlement(ID);
  const emitted: LedgerChange[] = [];
  for (const f of facts) {
    const before = settlement.changes;
    const result = applyFact(settlement, f);
    if (result.outcome === 'refused') throw new Error(result.reason);
    settlement = result.settlement;
    // history is only appended to
    expect(settlement.changes.slice(0, before.length)).toEqual(before);
    expect(settlement.changes.length - before.length).toBeLessThanOrEqual(1);
    if (result.outcome === 'applied' && result.emitted) emitted.push(result.emitted);
    // the ledger holds what the facts so far say, never less than zero
    const held = heldInLedger(settlement.changes);
    expect(held.equals(result.view.owed)).toBe(true);
    expect(held.isNegative()).toBe(false);
  }
  return { settlement, emitted };
}

const credited = (changes: readonly LedgerChange[]) => heldInLedger(changes).toFixed(2);

describe('settlement', () => {
  it('credits a capture once with the key topup:<id>', () => {
    const { settlement } = deliver([captured('e1', 10000), captured('e1', 10000)]);
    expect(settlement.changes).toEqual([expect.objectContaining({ seq: 1, kind: 'credit', idempotencyKey: `topup:${ID}`, cause: 'e1' })]);
    expect(viewOf(settlement.facts).status).toBe('succeeded');
  });

  it('changes nothing when a failed earlier attempt is reported after the success', () => {
    const { settlement } = deliver([failed('e0', 1), captured('e2', 10000, 5), failed('e1', 2)]);
    expect(credited(settlement.changes)).toBe('100.00');
    expect(settlement.changes).toHaveLength(1);
    expect(viewOf(settlement.facts).status).toBe('succeeded');
  });

  it('never credits a payment refunded in full before its success arrives', () => {
    const { settlement } = deliver([refundTotal('r1', 10000, 50), captured('s1', 10000, 10)]);
    expect(settlement.changes).toEqual([]);
    expect(viewOf(settlement.facts)).toMatchObject({ status: 'refunded' });
  });

  it('credits what is left of a payment refunded in part before its success arrives', () => {
    const { settlement } = deliver([refundTotal('r1', 3000, 50), captured('s1', 10000, 10)]);
    expect(credited(settlement.changes)).toBe('70.00');
    expect(settlement.changes[0].idempotencyKey).toBe(`topup:${ID}`);
  });

  it('reverses a partial refund by that part, and the next by its own part (cumulative totals)', () => {
    const { settlement } = deliver([captured('s1', 10000, 10), refundTotal('r1', 3000, 20), refundTotal('r2', 5000, 30), refundTotal('r1', 3000, 20)]);
    expect(settlement.changes.map((c) => [c.kind, c.amount.toFixed(2), c.idempotencyKey])).toEqual([
      ['credit', '100.00', `topup:${ID}`],
      ['reversal', '30.00', `reverse:${ID}:2`],
      ['reversal', '20.00', `reverse:${ID}:3`],
    ]);
    expect(viewOf(settlement.facts).status).toBe('partially_refunded');
  });

  it('does not go back when an older cumulative refund total arrives after a newer one', () => {
    const { settlement } = deliver([captured('s1', 10000, 10), refundTotal('r2', 5000, 30), refundTotal('r1', 3000, 20)]);
    expect(credited(settlement.changes)).toBe('50.00');
    expect(settlement.changes).toHaveLength(2);
  });

  it('takes a dispute back while open, keeps it when lost, and credits it back when won on appeal', () => {
    const { settlement } = deliver([captured('s1', 10000, 10), dispute('d1', 'dp_1', 10000, 'open', 20), dispute('d2', 'dp_1', 10000, 'lost', 30)]);
    expect(credited(settlement.changes)).toBe('0.00');
    expect(viewOf(settlement.facts).status).toBe('dispute_lost');
    const won = applyFact(settlement, dispute('d3', 'dp_1', 10000, 'won', 40));
    expect(won.outcome === 'applied' && won.emitted).toMatchObject({ seq: 3, kind: 'credit', idempotencyKey: `topup:${ID}:3` });
    expect(won.outcome === 'applied' && credited(won.settlement.changes)).toBe('100.00');
    expect(won.outcome === 'applied' && won.view.status).toBe('dispute_won');
  });

  it('orders reports of a dispute by the provider time, not by arrival, and the later stage on a tie', () => {
    const late = deliver([dispute('d3', 'dp_1', 10000, 'won', 40), dispute('d1', 'dp_1', 10000, 'open', 20), captured('s1', 10000, 10)]);
    expect(late.settlement.changes.map((c) => c.kind)).toEqual(['credit']);
    const tie = deliver([captured('s1', 10000, 10), dispute('d2', 'dp_1', 10000, 'lost', 20), dispute('d1', 'dp_1', 10000, 'open', 20)]);
    expect(viewOf(tie.settlement.facts).status).toBe('dispute_lost');
  });

  it('holds no money for an inquiry', () => {
    const { settlement } = deliver([captured('s1', 10000, 10), dispute('d1', 'dp_1', 10000, 'inquiry', 20)]);
    expect(credited(settlement.changes)).toBe('100.00');
  });

  it('counts a capture reversal only while no dispute is known: the dispute is the same money', () => {
    const reversal = fact('v1', { kind: 'reversal', reversalId: 'RV1', amount: usd(10000) }, 20);
    const alone = deliver([captured('s1', 10000, 10), reversal]);
    expect(credited(alone.settlement.changes)).toBe('0.00');
    const withCase = deliver([captured('s1', 10000, 10), reversal, dispute('d1', 'dp_1', 10000, 'open', 21), dispute('d2', 'dp_1', 10000, 'won', 60)]);
    expect(credited(withCase.settlement.changes)).toBe('100.00');
  });

  it('counts a refund reported one by one once, and not once a later report says it failed', () => {
    const { settlement } = deliver([captured('s1', 10000, 10), refundOne('a', 're_1', 2000, 20), refundOne('b', 're_1', 2000, 21), refundOne('c', 're_2', 1000, 22), refundOne('d', 're_2', 1000, 30, false)]);
    expect(credited(settlement.changes)).toBe('80.00');
  });

  it('says failed, expired or pending while nothing is captured, whatever else was said', () => {
    expect(viewOf([failed('f')]).status).toBe('failed');
    expect(viewOf([fact('x', { kind: 'expired', reason: 'window closed' })]).status).toBe('expired');
    expect(viewOf([fact('a', { kind: 'approved' }), refundTotal('r', 100, 1)]).status).toBe('pending');
    expect(viewOf([fact('x', { kind: 'expired', reason: 'window closed' }), captured('s', 100)]).status).toBe('succeeded');
  });

  it('refuses a fact past the limit and keeps the settlement as it was', () => {
    let s = emptySettlement(ID);
    for (let i = 0; i < MAX_SETTLEMENT_FACTS; i++) {
      const r = applyFact(s, failed(`f${i}`, i));
      if (r.outcome !== 'applied') throw new Error('not applied');
      s = r.settlement;
    }
    expect(applyFact(s, captured('s', 100)).outcome).toBe('refused');
    expect(applyFact(s, failed('f0')).outcome).toBe('duplicate');
  });

  /**
   * A payment's life as the provider lives it, the facts it reports about it (some twice under
   * different ids, as Stripe reports a dispute by `created` and by `funds_withdrawn`), and what
   * the provider keeps at the end, computed from the life, not from the facts.
   */
  interface Life {
    readonly facts: SettlementFact[];
    readonly keeps: Decimal;
    readonly status: SettlementStatus;
  }

  const stages = fc.constantFrom<DisputeStage[]>(['inquiry'], ['open'], ['open', 'won'], ['open', 'lost'], ['inquiry', 'open', 'lost'], ['open', 'lost', 'open', 'won'], ['open', 'won', 'open', 'lost'], ['inquiry', 'won']);
  const life: fc.Arbitrary<Life> = fc
    .record({
      amountCents: fc.integer({ min: 1, max: 10_000_000 }),
      captured: fc.boolean(),
      failedAttempts: fc.nat({ max: 3 }),
      closed: fc.constantFrom(null, 'canceled', 'expired'),
      approved: fc.boolean(),
      refundShares: fc.array(fc.integer({ min: 1, max: 100 }), { maxLength: 4 }),
      refundStyle: fc.constantFrom('cumulative', 'one-by-one', 'both'),
      failedRefund: fc.boolean(),
      disputes: fc.array(fc.record({ share: fc.integer({ min: 1, max: 100 }), stages, twice: fc.boolean(), sameSecond: fc.boolean() }), { maxLength: 2 }),
      reversal: fc.constantFrom('none', 'alone', 'with-its-dispute'),
    })
    .map((p) => {
      const facts: SettlementFact[] = [];
      let n = 0;
      const key = () => `k${n++}`;
      let clock = 100;
      for (let i = 0; i < p.failedAttempts; i++) facts.push(failed(key(), clock++));
      if (p.approved) facts.push(fact(key(), { kind: 'approved' }, clock++));
      // Our own clock may expire a payment whose capture is late; the provider never cancels a captured one.
      if (p.closed === 'expired' || (p.closed === 'canceled' && !p.captured)) facts.push(fact(key(), { kind: p.closed, reason: p.closed }, clock++));
      if (!p.captured) {
        const status: SettlementStatus = p.failedAttempts > 0 || p.closed === 'canceled' ? 'failed' : p.closed === 'expired' ? 'expired' : 'pending';
        return { facts, keeps: ZERO, status };
      }
      const amount = p.amountCents;
      facts.push(captured(key(), amount, clock++));
      // refunds: shares of what was captured, never more than it in all
      const refunds: number[] = [];
      let left = amount;
      for (const share of p.refundShares) {
        const r = Math.min(left, Math.max(1, Math.floor((amount * share) / 400)));
        if (r <= 0) break;
        refunds.push(r);
        left -= r;
      }
      let total = 0;
      refunds.forEach((r, i) => {
        total += r;
        const when = clock++;
        if (p.refundStyle !== 'one-by-one') facts.push(refundTotal(key(), total, when));
        if (p.refundStyle !== 'cumulative') facts.push(refundOne(key(), `re_${i}`, r, when));
      });
      if (p.failedRefund && p.refundStyle === 'one-by-one') {
        // a refund the provider started and then reported failed: the money stayed
        facts.push(refundOne(key(), 're_failed', 1, clock++), refundOne(key(), 're_failed', 1, clock++, false));
      }
      let disputed = 0;
      const finals: DisputeStage[] = [];
      p.disputes.forEach((d, i) => {
        const disputeCents = Math.max(1, Math.floor((amount * d.share) / 100));
        d.stages.forEach((stage, s) => {
          // The same second is allowed where the stage rank orders it as the provider did.
          const when = d.sameSecond && s > 0 && stage !== 'open' && d.stages[s - 1] === 'open' ? clock : ++clock;
          facts.push(dispute(key(), `dp_${i}`, disputeCents, stage, when));
          if (d.twice) facts.push(dispute(key(), `dp_${i}`, disputeCents, stage, when));
        });
        clock++;
        const final = d.stages[d.stages.length - 1];
        finals.push(final);
        if (final === 'open' || final === 'lost') disputed += disputeCents;
      });
      let reversed = 0;
      if (p.reversal === 'alone' && p.disputes.length === 0) {
        reversed = Math.max(1, Math.floor(amount / 3));
        facts.push(fact(key(), { kind: 'reversal', reversalId: 'RV', amount: usd(reversed) }, clock++), fact(key(), { kind: 'reversal', reversalId: 'RV', amount: usd(reversed) }, clock++));
        disputed += reversed;
      } else if (p.reversal === 'with-its-dispute' && p.disputes.length > 0) {
        // the money side of the first dispute, reported again by the capture
        const first = facts.find((f) => f.input.kind === 'dispute')!;
        if (first.input.kind === 'dispute') facts.push(fact(key(), { kind: 'reversal', reversalId: 'RV', amount: first.input.amount }, clock++));
      }
      const refunded = refunds.reduce((a, b) => a + b, 0);
      const keepsCents = Math.max(0, amount - refunded - disputed);
      const status: SettlementStatus = finals.includes('open')
        ? 'disputed'
        : finals.includes('lost') || reversed > 0
          ? 'dispute_lost'
          : refunded >= amount
            ? 'refunded'
            : refunded > 0
              ? 'partially_refunded'
              : finals.includes('won')
                ? 'dispute_won'
                : 'succeeded';
      return { facts, keeps: usd(keepsCents), status };
    });

  /** The life's facts, some delivered several times, in any order. */
  const delivery = life.chain((l) => {
    if (l.facts.length === 0) return fc.constant({ l, delivered: [] as SettlementFact[] });
    return fc.array(fc.nat({ max: l.facts.length - 1 }), { maxLength: 2 * l.facts.length }).chain((copies) => {
      const all = [...l.facts, ...copies.map((i) => l.facts[i])];
      return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }).map((delivered) => ({ l, delivered }));
    });
  });

  it('ends with the ledger holding what the provider keeps, for any order, duplication and delay of the events, each change emitted once with its own key', () => {
    fc.assert(
      fc.property(delivery, ({ l, delivered }) => {
        const { settlement, emitted } = deliver(delivered);
        // the sum of what was emitted is what the provider keeps
        expect(sum(emitted.map((c) => (c.kind === 'credit' ? c.amount : c.amount.negated()))).equals(l.keeps)).toBe(true);
        expect(viewOf(settlement.facts).status).toBe(l.status);
        // each change once, with its own key, in order; the first is the top-up's credit
        const keys = settlement.changes.map((c) => c.idempotencyKey);
        expect(new Set(keys).size).toBe(keys.length);
        settlement.changes.forEach((c, i) => {
          expect(c.seq).toBe(i + 1);
          expect(c.amount.greaterThan(ZERO)).toBe(true);
          expect(c.idempotencyKey.startsWith(c.kind === 'credit' ? 'topup:' : 'reverse:')).toBe(true);
        });
        if (settlement.changes.length > 0) expect(settlement.changes[0]).toMatchObject({ kind: 'credit', idempotencyKey: `topup:${ID}` });
        // no fact made more than one change, a repeated one none
        expect(new Set(emitted.map((c) => c.cause)).size).toBe(emitted.length);
        expect(settlement.facts.length).toBe(new Set(delivered.map((f) => f.key)).size);
      }),
      { numRuns: 500 },
    );
  });
});

describe('what a refund may still take back', () => {
  it('is what was captured, less what was refunded and what refunds in flight ask', () => {
    expect(refundableAmount({ captured: usd(5000), refunded: usd(1250) }, usd(250)).toFixed()).toBe('35');
    expect(refundableAmount({ captured: usd(5000), refunded: usd(4000) }, usd(1500)).toFixed()).toBe('-5');
  });
});
