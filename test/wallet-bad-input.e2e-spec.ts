import { sql, startEngine, TestEngine, WalletClient } from './support/engine';

/** Every kind of bad input gets an error reply with a code, and changes nothing. */
describe('wallet bad input', () => {
  let engine: TestEngine;
  let client: WalletClient;
  const org = 'org-bad';
  const future = new Date(Date.now() + 86400_000).toISOString();

  beforeAll(async () => {
    engine = await startEngine();
    client = await WalletClient.connect(engine.config.subjectPrefix);
    await client.request(org, 'topup', { idempotencyKey: 'seed', amount: '10.00', currency: 'USD', provider: 'stripe', reference: 'pi_seed' });
  });

  afterAll(async () => {
    await engine.dispose(client.nc);
    await client.close();
  });

  const debit = { idempotencyKey: 'd-bad', amount: '1.00', service: 'gpu-container', workspaceId: 'ws-1' };
  const topup = { idempotencyKey: 't-bad', amount: '5.00', currency: 'USD', provider: 'stripe', reference: 'pi_bad' };
  const grant = { idempotencyKey: 'g-bad', kind: 'voucher', amount: '5', currency: 'USD', expiresAt: future };

  const cases: [string, string, string | object, string][] = [
    ['malformed JSON', 'debit', '{"amount": "1.00", ', 'MALFORMED_JSON'],
    ['a JSON array instead of an object', 'debit', '[1,2]', 'MALFORMED_JSON'],
    ['an empty body', 'debit', '', 'MALFORMED_JSON'],
    ['a missing amount', 'debit', { ...debit, amount: undefined }, 'MISSING_FIELD'],
    ['a missing idempotency key', 'debit', { ...debit, idempotencyKey: undefined }, 'MISSING_FIELD'],
    ['a missing service', 'debit', { ...debit, service: undefined }, 'MISSING_FIELD'],
    ['a negative amount', 'debit', { ...debit, amount: '-1.00' }, 'INVALID_AMOUNT'],
    ['a zero amount', 'debit', { ...debit, amount: '0.000' }, 'INVALID_AMOUNT'],
    ['a non-numeric amount', 'debit', { ...debit, amount: 'ten' }, 'INVALID_AMOUNT'],
    ['an amount in exponent form', 'debit', { ...debit, amount: '1e3' }, 'INVALID_AMOUNT'],
    ['an amount sent as a JSON number', 'debit', { ...debit, amount: 1 }, 'INVALID_AMOUNT'],
    ['more decimals than the ledger keeps', 'debit', { ...debit, amount: '0.000000001' }, 'TOO_MANY_DECIMALS'],
    ['a top-up in fractions of a cent', 'topup', { ...topup, amount: '5.001' }, 'TOO_MANY_DECIMALS'],
    ['an absurd amount', 'topup', { ...topup, amount: '1000000000000000000' }, 'AMOUNT_TOO_LARGE'],
    ['an unknown currency', 'topup', { ...topup, currency: 'EUR' }, 'UNKNOWN_CURRENCY'],
    ['a currency other than the wallet\'s', 'topup', { ...topup, amount: '5000', currency: 'VND' }, 'CURRENCY_LOCKED'],
    ['a debit in another currency', 'debit', { ...debit, currency: 'JPY' }, 'CURRENCY_MISMATCH'],
    ['a voucher without expiry', 'grant', { ...grant, expiresAt: undefined }, 'MISSING_FIELD'],
    ['a voucher already expired', 'grant', { ...grant, expiresAt: '2020-01-01T00:00:00Z' }, 'GRANT_ALREADY_EXPIRED'],
    ['an unknown grant kind', 'grant', { ...grant, kind: 'gift' }, 'INVALID_FIELD'],
    ['a malformed expiry', 'grant', { ...grant, expiresAt: 'tomorrow' }, 'INVALID_FIELD'],
    ['an oversize payload', 'debit', JSON.stringify({ ...debit, description: 'x'.repeat(20_000) }), 'PAYLOAD_TOO_LARGE'],
    ['a too long description', 'debit', { ...debit, description: 'x'.repeat(501) }, 'INVALID_FIELD'],
    ['an unknown command', 'refund', { ...debit }, 'UNKNOWN_COMMAND'],
    ['a bad ledger limit', 'ledger', { limit: 100000 }, 'INVALID_FIELD'],
  ];

  it.each(cases)('refuses %s with a code and changes nothing', async (_name, command, body, code) => {
    const before = await sql("select version, seq, total::text from wallets where org_id = $1", [org]);
    const reply = await client.raw(org, command, typeof body === 'string' ? body : JSON.stringify(body));
    expect(reply.ok).toBe(false);
    expect(reply.error.code).toBe(code);
    expect(typeof reply.error.message).toBe('string');
    expect(await sql("select version, seq, total::text from wallets where org_id = $1", [org])).toEqual(before);
  });

  it('refuses an invalid organization id in the subject', async () => {
    const reply = await client.raw('org$1', 'balance', '');
    expect(reply.error.code).toBe('INVALID_ORG_ID');
  });

  it('refuses a debit on an organization that was never credited, and creates nothing', async () => {
    const reply = await client.request('org-unknown', 'debit', debit);
    expect(reply.error.code).toBe('NO_BILLING_CURRENCY');
    expect(await sql("select * from wallets where org_id = 'org-unknown'")).toEqual([]);
  });

  it('still answers after all of it, with the balance it had', async () => {
    const reply = await client.request(org, 'balance');
    expect(reply.balance).toMatchObject({ total: '10.00', seq: 1 });
  });
});
