import { withJetStreamPatience } from './streams';

const natsError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('a JetStream setup call at start', () => {
  it('is tried again while the servers time out or have no responders, then answers', async () => {
    let calls = 0;
    const answer = await withJetStreamPatience(async () => {
      calls++;
      if (calls === 1) throw natsError('TIMEOUT', 'TIMEOUT');
      if (calls === 2) throw natsError('503', 'no responders available for request');
      return 'created';
    }, 5_000);
    expect(answer).toBe('created');
    expect(calls).toBe(3);
  });

  it('throws any other error at once, and a timeout once its patience is spent', async () => {
    let calls = 0;
    await expect(
      withJetStreamPatience(async () => {
        calls++;
        throw natsError('10058', 'stream name already in use with a different configuration');
      }, 5_000),
    ).rejects.toThrow(/already in use/);
    expect(calls).toBe(1);
    const started = Date.now();
    await expect(withJetStreamPatience(async () => Promise.reject(natsError('TIMEOUT', 'TIMEOUT')), 600)).rejects.toThrow('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
