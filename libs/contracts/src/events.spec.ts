import { eventMessage, readEvent } from './events';
import { Subjects } from './subjects';

describe('events: one map for the engine that writes them and the services that read them', () => {
  const subjects = new Subjects('billing');
  const body = { orgId: 'acme', seq: 3, currency: 'USD' as const, threshold: '10', total: '9.50', exact: { total: '9.5' }, runwaySeconds: 3600, at: '2026-12-03T10:00:00.000Z' };
  const bytes = (text: string) => new Uint8Array(Buffer.from(text));

  it('reads back what it wrote, by the subject the engine published it on', () => {
    const m = eventMessage(subjects, 'acme', 'low_balance', body);
    expect(m.subject).toBe('billing.events.acme.low_balance');
    const read = readEvent(subjects, m.subject, bytes(m.payload));
    expect(read).toEqual({ kind: 'event', event: { eventId: m.eventId, type: 'low_balance', ...body } });
  });

  it('keeps an id given to it (a redelivered announcement keeps its id)', () => {
    const id = '6f1c2f7e-4b9a-4c3e-8d2a-0123456789ab';
    expect(eventMessage(subjects, 'acme', 'low_balance', body, id).eventId).toBe(id);
  });

  it('believes the subject, not the body: another organization, another type, no UUID or no JSON is unusable', () => {
    const m = eventMessage(subjects, 'acme', 'low_balance', body);
    const payload = JSON.parse(m.payload);
    const unusable = (text: string, subject = m.subject) => readEvent(subjects, subject, bytes(text)).kind;
    expect(unusable(JSON.stringify({ ...payload, orgId: 'other' }))).toBe('unusable');
    expect(unusable(JSON.stringify({ ...payload, type: 'depleted' }))).toBe('unusable');
    expect(unusable(JSON.stringify({ ...payload, eventId: 'e-1' }))).toBe('unusable');
    expect(unusable('not json')).toBe('unusable');
    expect(unusable('[1]')).toBe('unusable');
    expect(unusable(m.payload, 'billing.events.acme.something_else')).toBe('ignore');
    expect(unusable(m.payload, 'other.events.acme.low_balance')).toBe('ignore');
  });
});
