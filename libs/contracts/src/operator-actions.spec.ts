import { auditParams, operatorIdentity, parseAuditQuery, voucherCodeFingerprint } from './operator-actions';

const headersOf = (h: Record<string, string[]>) => (name: string) => h[name] ?? [];
const body = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

describe('operatorIdentity', () => {
  it('takes the operator, the request id and the way it came from the headers', () => {
    expect(operatorIdentity(headersOf({ 'Billing-Operator': ['alice@example.com'], 'Billing-Request-Id': ['req-1'], 'Billing-Via': ['http'] }), () => 'made')).toEqual({ operator: 'alice@example.com', requestId: 'req-1', via: 'http' });
  });

  it('makes up a request id when there is none or it is malformed, and calls anything but http nats', () => {
    expect(operatorIdentity(headersOf({ 'Billing-Operator': ['alice'] }), () => 'made')).toEqual({ operator: 'alice', requestId: 'made', via: 'nats' });
    expect(operatorIdentity(headersOf({ 'Billing-Operator': ['alice'], 'Billing-Request-Id': ['has space'], 'Billing-Via': ['HTTP'] }), () => 'made')).toEqual({ operator: 'alice', requestId: 'made', via: 'nats' });
  });

  it('refuses a request naming no operator, a malformed one, or two', () => {
    expect(() => operatorIdentity(headersOf({}), () => 'x')).toThrow(expect.objectContaining({ code: 'OPERATOR_REQUIRED' }));
    expect(() => operatorIdentity(headersOf({ 'Billing-Operator': [''] }), () => 'x')).toThrow(expect.objectContaining({ code: 'OPERATOR_REQUIRED' }));
    for (const bad of [['two words'], ['-x'], ['a'.repeat(129)], ['alice', 'bob']]) {
      expect(() => operatorIdentity(headersOf({ 'Billing-Operator': bad }), () => 'x')).toThrow(expect.objectContaining({ code: 'INVALID_FIELD' }));
    }
  });
});

describe('auditParams', () => {
  it('keeps the parameters as sent, but a voucher code only as its fingerprint', () => {
    expect(auditParams(body({ idempotencyKey: 'g-1', amount: '20' }))).toEqual({ idempotencyKey: 'g-1', amount: '20' });
    const params = auditParams(body({ code: 'SECRET-CODE', amount: '5' }));
    expect(params).toEqual({ code: voucherCodeFingerprint('SECRET-CODE'), amount: '5' });
    expect(JSON.stringify(params)).not.toContain('SECRET-CODE');
    expect(voucherCodeFingerprint('SECRET-CODE')).toMatch(/^sha256:[0-9a-f]{16}$/);
  });

  it('describes a body it cannot read instead of keeping it', () => {
    expect(auditParams(body('{'))).toEqual({ unreadable: 'MALFORMED_JSON', bytes: 1 });
    expect(auditParams(body('[1]'))).toEqual({ unreadable: 'MALFORMED_JSON', bytes: 3 });
    expect(auditParams(Buffer.alloc(20_000, 32))).toEqual({ unreadable: 'PAYLOAD_TOO_LARGE', bytes: 20_000 });
  });

  it('replaces what jsonb cannot hold (NUL, lone surrogates)', () => {
    expect(auditParams(body('{"reason":"a\\u0000b","x":"\\ud800"}'))).toEqual({ reason: 'a\uFFFDb', x: '\uFFFD' });
    expect(auditParams(body({ ok: 'a\u{1F600}b' }))).toEqual({ ok: 'a\u{1F600}b' });
  });
});

describe('parseAuditQuery', () => {
  it('reads the filters and the page', () => {
    expect(parseAuditQuery(body({ operator: 'alice', orgId: 'org-1', command: 'wallet.grant', outcome: 'CURRENCY_LOCKED', from: '2026-12-01T00:00:00Z', cursor: '42', limit: 5 }))).toEqual({
      operator: 'alice',
      orgId: 'org-1',
      command: 'wallet.grant',
      outcome: 'CURRENCY_LOCKED',
      from: new Date('2026-12-01T00:00:00Z'),
      to: null,
      cursor: '42',
      limit: 5,
    });
    expect(parseAuditQuery(Buffer.alloc(0))).toMatchObject({ operator: null, cursor: null, limit: 100 });
  });

  it('refuses what is not a filter', () => {
    for (const bad of [{ limit: 0 }, { limit: 501 }, { limit: 1.5 }, { cursor: '0' }, { cursor: 'x' }, { operator: 'a b' }, { command: 'wallet.grant; drop' }, { outcome: 'ok ' }, { from: 'now' }, { from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' }, { orgId: 'a.b' }]) {
      expect(() => parseAuditQuery(body(bad))).toThrow(expect.objectContaining({ code: 'INVALID_FIELD' }));
    }
  });
});
