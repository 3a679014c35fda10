import { alertSubjects, readAlertEvent } from './alert-event';

const data = (o: unknown) => Buffer.from(JSON.stringify(o));
const eventId = '6f1c2a3e-9b1d-4c55-8a0e-0e7f1f2b3c4d';

describe('alert events', () => {
  it('filters the four alert types of every organization', () => {
    expect(alertSubjects('billing')).toEqual(['billing.events.*.low_balance', 'billing.events.*.depleted', 'billing.events.*.grant_expired', 'billing.events.*.lifecycle_rejected', 'billing.events.*.auto_topup_failed', 'billing.events.*.gpu_stop_requested', 'billing.events.*.workspace_budget_reached', 'billing.events.*.runway_low', 'billing.events.*.storage_suspension_scheduled', 'billing.events.*.storage_suspension_reminder', 'billing.events.*.storage_suspension_cancelled', 'billing.events.*.storage_deletion_requested']);
  });

  it('reads an alert whose body agrees with its subject', () => {
    expect(readAlertEvent('billing', 'billing.events.org-1.depleted', data({ eventId, type: 'depleted', orgId: 'org-1', seq: 4 }))).toEqual({
      kind: 'alert',
      event: { eventId, type: 'depleted', orgId: 'org-1' },
    });
  });

  it('ignores balance snapshots and calls a body it cannot use unusable', () => {
    expect(readAlertEvent('billing', 'billing.events.org-1.balance', data({ eventId, type: 'balance', orgId: 'org-1' })).kind).toBe('ignore');
    expect(readAlertEvent('billing', 'billing.events.org-1.depleted', Buffer.from('{')).kind).toBe('unusable');
    expect(readAlertEvent('billing', 'billing.events.org-1.depleted', data({ eventId: 'e-1', type: 'depleted', orgId: 'org-1' })).kind).toBe('unusable');
    expect(readAlertEvent('billing', 'billing.events.org-1.depleted', data({ eventId, type: 'depleted', orgId: 'org-2' })).kind).toBe('unusable');
  });
});
