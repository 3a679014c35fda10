import { LifecycleSubjects, Subjects } from '@billing/contracts';
import { MAX_ANNOUNCED_REASON_CHARS, rejectionAnnouncement, rejectionEventId, rejectionTarget } from './lifecycle-rejection';

const lifecycle = new LifecycleSubjects('gpu.lifecycle');
const events = new Subjects('billing');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const now = new Date('2026-11-27T10:00:00.000Z');
const rejection = (subject: string, over: object = {}) => ({
  stream: 'GPU_LIFECYCLE',
  streamSequence: 42,
  subject,
  data: Buffer.from('{"eventId":"e-1","sku":"z999"}'),
  lifecycleEventId: 'e-1',
  code: 'UNKNOWN_SKU',
  reason: "SKU 'z999' is not in the price catalog; nothing was billed",
  ...over,
});

describe('lifecycle rejections', () => {
  it('announces a rejected message to the organization its subject names, with what the control plane needs to find it', () => {
    const a = rejectionAnnouncement(events, lifecycle, rejection('gpu.lifecycle.org-1.r-1'), now)!;
    expect(a.subject).toBe('billing.events.org-1.lifecycle_rejected');
    expect(JSON.parse(a.payload)).toEqual({
      eventId: a.eventId,
      type: 'lifecycle_rejected',
      orgId: 'org-1',
      subject: 'gpu.lifecycle.org-1.r-1',
      lifecycleEventId: 'e-1',
      resourceId: 'r-1',
      reason: "SKU 'z999' is not in the price catalog; nothing was billed",
      code: 'UNKNOWN_SKU',
      at: '2026-11-27T10:00:00.000Z',
    });
    expect(a.eventId).toMatch(UUID);
  });

  it('attributes by the subject, not by the body: an orgId mismatch goes to the subject organization', () => {
    expect(rejectionTarget(lifecycle, 'gpu.lifecycle.org-2.r-9')).toEqual({ orgId: 'org-2', resourceId: 'r-9' });
  });

  it('announces nothing when the subject names no organization that could exist', () => {
    for (const subject of ['gpu.lifecycle.org-1', 'gpu.lifecycle.org-1.r-1.extra', 'other.org-1.r-1', `gpu.lifecycle.${'x'.repeat(65)}.r-1`, 'gpu.lifecycle.org$1.r-1']) {
      expect(rejectionAnnouncement(events, lifecycle, rejection(subject), now)).toBeNull();
    }
  });

  it('gives the same message at the same place in its stream the same event id, and any other a different one', () => {
    const r = rejection('gpu.lifecycle.org-1.r-1');
    expect(rejectionEventId(r)).toBe(rejectionEventId({ ...r }));
    expect(rejectionEventId({ ...r, streamSequence: 43 })).not.toBe(rejectionEventId(r));
    expect(rejectionEventId({ ...r, stream: 'OTHER' })).not.toBe(rejectionEventId(r));
    expect(rejectionEventId({ ...r, data: Buffer.from('{}') })).not.toBe(rejectionEventId(r));
  });

  it('cuts a long reason, and keeps a message that could not be read (no eventId)', () => {
    const a = rejectionAnnouncement(events, lifecycle, rejection('gpu.lifecycle.org-1.r-1', { reason: 'x'.repeat(5000), lifecycleEventId: null, code: 'MALFORMED_JSON' }), now)!;
    const body = JSON.parse(a.payload);
    expect(body.reason).toHaveLength(MAX_ANNOUNCED_REASON_CHARS);
    expect(body).toMatchObject({ lifecycleEventId: null, code: 'MALFORMED_JSON' });
  });
});
