import { Subjects } from './subjects';

describe('Subjects.parseEvent', () => {
  const subjects = new Subjects('billing');

  it('reads the organization and type an event subject names', () => {
    expect(subjects.parseEvent(subjects.event('org-1', 'balance'))).toEqual({ orgId: 'org-1', type: 'balance' });
  });

  it('refuses any other subject', () => {
    for (const s of ['billing.events.org-1', 'billing.events.org-1.balance.x', 'billing.events..balance', 'other.events.org-1.balance', 'billing.wallet.org-1.balance']) {
      expect(subjects.parseEvent(s)).toBeNull();
    }
  });
});
