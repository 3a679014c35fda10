import { backoffMs, ProviderCallPolicy, ProviderError, retryAfterMs, withRetries } from './provider-call';

const POLICY: ProviderCallPolicy = { timeoutMs: 1000, maxRetries: 3, retryBaseMs: 100, maxRetryDelayMs: 1000 };

describe('provider calls', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:05 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(5000);
    expect(retryAfterMs('soon')).toBeNull();
    expect(retryAfterMs(undefined)).toBeNull();
  });

  it('backs off exponentially, half to all of each step, never past the cap', () => {
    expect(backoffMs(POLICY, 0, () => 0)).toBe(50);
    expect(backoffMs(POLICY, 0, () => 1)).toBe(100);
    expect(backoffMs(POLICY, 2, () => 1)).toBe(400);
    expect(backoffMs(POLICY, 10, () => 1)).toBe(1000);
  });

  it('retries what means "not now" and waits as the provider asks; a decline is final at once', async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await withRetries(
      POLICY,
      async () => {
        calls++;
        if (calls === 1) throw new ProviderError('stripe', 'unavailable', '503');
        if (calls === 2) throw new ProviderError('stripe', 'rate_limited', '429', { retryAfterMs: 700 });
        return 'ok';
      },
      { sleep: async (ms) => waits.push(ms), random: () => 1 },
    );
    expect(result).toBe('ok');
    expect(waits).toEqual([100, 700]);

    calls = 0;
    await expect(withRetries(POLICY, async () => { calls++; throw new ProviderError('paypal', 'declined', 'INSTRUMENT_DECLINED'); }, { sleep: async () => undefined })).rejects.toMatchObject({ kind: 'declined' });
    expect(calls).toBe(1);
  });

  it('gives up after the retries, and at once when asked to wait longer than the cap', async () => {
    let calls = 0;
    await expect(withRetries(POLICY, async () => { calls++; throw new ProviderError('vnpay', 'unavailable', 'down'); }, { sleep: async () => undefined })).rejects.toMatchObject({ kind: 'unavailable' });
    expect(calls).toBe(POLICY.maxRetries + 1);
    calls = 0;
    await expect(withRetries(POLICY, async () => { calls++; throw new ProviderError('paypal', 'rate_limited', '429', { retryAfterMs: 60_000 }); }, { sleep: async () => undefined })).rejects.toMatchObject({ kind: 'rate_limited' });
    expect(calls).toBe(1);
  });

  it('follows the provider when it says whether a retry helps', async () => {
    let calls = 0;
    await expect(withRetries(POLICY, async () => { calls++; throw new ProviderError('stripe', 'unavailable', '500', { retryable: false }); }, { sleep: async () => undefined })).rejects.toThrow();
    expect(calls).toBe(1);
  });

  it('does not retry what is not a provider error (a bug)', async () => {
    let calls = 0;
    await expect(withRetries(POLICY, async () => { calls++; throw new TypeError('bug'); }, { sleep: async () => undefined })).rejects.toThrow(TypeError);
    expect(calls).toBe(1);
  });
});
