import { LeaseView, planLeases } from './lease-plan';

const TTL = 5000;
const NOW = 1_000_000;

function view(partial: Partial<LeaseView>): LeaseView {
  return { partitions: 8, self: 'a', nowMs: NOW, ttlMs: TTL, owners: new Map(), nodes: new Map(), held: new Set(), ...partial };
}

const owned = (node: string, partitions: number[], seenAtMs = NOW) => partitions.map((p) => [p, { node, seenAtMs }] as const);

describe('planLeases', () => {
  it('takes every free partition when it is the only process', () => {
    const plan = planLeases(view({}));
    expect(plan.share).toBe(8);
    expect(plan.claim.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(plan.release).toEqual([]);
  });

  it('hands over its surplus when another process is live, keeping an even share', () => {
    const held = new Set([0, 1, 2, 3, 4, 5, 6, 7]);
    const plan = planLeases(view({ held, owners: new Map(owned('a', [...held])), nodes: new Map([['a', NOW], ['b', NOW - 100]]) }));
    expect(plan.share).toBe(4);
    expect(plan.claim).toEqual([]);
    expect(plan.release).toHaveLength(4);
    expect(new Set(plan.release).size).toBe(4);
    for (const p of plan.release) expect(held.has(p)).toBe(true);
  });

  it('takes nothing a live process holds, and its share of what is free', () => {
    const plan = planLeases(view({ owners: new Map(owned('b', [0, 1, 2, 3, 4, 5])), nodes: new Map([['b', NOW]]) }));
    expect(plan.share).toBe(4);
    expect(plan.claim.sort((x, y) => x - y)).toEqual([6, 7]);
  });

  it('treats a lease not seen renewed for a whole TTL as expired: a dead process\'s partitions are taken', () => {
    const owners = new Map([...owned('b', [0, 1, 2, 3], NOW - TTL), ...owned('a', [4, 5, 6, 7])]);
    const held = new Set([4, 5, 6, 7]);
    const plan = planLeases(view({ owners, held, nodes: new Map([['b', NOW - TTL]]) }));
    expect(plan.share).toBe(8);
    expect(plan.claim.sort((x, y) => x - y)).toEqual([0, 1, 2, 3]);
    // one moment earlier, the lease is still live
    expect(planLeases(view({ owners, held, nowMs: NOW - 1, nodes: new Map([['b', NOW - TTL]]) })).claim).toEqual([]);
  });

  it('takes back leases that name itself (its own, from before a restart)', () => {
    const plan = planLeases(view({ owners: new Map(owned('a', [0, 1, 2, 3, 4, 5, 6, 7])), nodes: new Map([['a', NOW]]) }));
    expect(plan.claim).toHaveLength(8);
  });

  it('never plans to take what it holds or to hand over what it needs', () => {
    for (let live = 1; live <= 5; live++) {
      const nodes = new Map(Array.from({ length: live - 1 }, (_, i) => [`n${i}`, NOW] as [string, number]));
      for (let heldCount = 0; heldCount <= 8; heldCount++) {
        const held = new Set(Array.from({ length: heldCount }, (_, i) => i));
        const plan = planLeases(view({ held, nodes }));
        for (const p of plan.claim) expect(held.has(p)).toBe(false);
        expect(held.size + plan.claim.length - plan.release.length).toBeLessThanOrEqual(Math.max(plan.share, held.size));
        if (live === 1) expect(plan.release).toEqual([]);
        expect(held.size - plan.release.length).toBeGreaterThanOrEqual(Math.min(held.size, plan.share));
      }
    }
  });
});
