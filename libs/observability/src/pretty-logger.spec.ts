import { Writable } from 'stream';
import { JsonLogger } from './json-logger';
import { PrettyLogger } from './pretty-logger';
import { logFormat, processLogger } from './process-logger';

function capture(): { out: Writable; lines: () => string[] } {
  let text = '';
  const out = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { out, lines: () => text.split('\n').filter((l) => l !== '') };
}

describe('PrettyLogger', () => {
  it('writes one line: time, level, service, context, message and the other fields as key=value', () => {
    const { out, lines } = capture();
    new PrettyLogger('gateway', out, {}).warn({ msg: 'provider refused a top-up', provider: 'stripe', orgId: 'org-1', amount: '10.00', error: 'card declined\nby the bank', retry: 2, skipped: undefined }, 'Payments');
    expect(lines()).toEqual([`${lines()[0].slice(0, 12)} WARN  gateway [Payments] provider refused a top-up provider=stripe orgId=org-1 amount=10.00 error="card declined\\nby the bank" retry=2`]);
    expect(lines()[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} /);
  });

  it('keeps Nest\'s route mapping and module wiring for LOG_LEVEL=debug', () => {
    const { out, lines } = capture();
    const logger = new PrettyLogger('gateway', out, {});
    logger.log('Mapped {/api/v1/wallet, GET} route', 'RouterExplorer');
    logger.log('GatewayModule dependencies initialized', 'InstanceLoader');
    logger.log('gateway listening', 'Gateway');
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatch(/INFO  gateway \[Gateway\] gateway listening$/);
  });

  it('puts an error\'s stack trace under its line, indented', () => {
    const { out, lines } = capture();
    new PrettyLogger('billing', out, {}).error('commit failed', 'Error: boom\n    at commit (wallet.ts:1:1)', 'Wallet');
    expect(lines().slice(1)).toEqual(['    Error: boom', '        at commit (wallet.ts:1:1)']);
    expect(lines()[0]).toMatch(/ERROR billing \[Wallet\] commit failed$/);
  });
});

describe('logFormat', () => {
  it('is JSON in production and readable lines in development, unless LOG_FORMAT says otherwise', () => {
    expect(logFormat({ NODE_ENV: 'production' })).toBe('json');
    expect(logFormat({})).toBe('pretty');
    expect(logFormat({ LOG_FORMAT: 'json' })).toBe('json');
    expect(logFormat({ NODE_ENV: 'production', LOG_FORMAT: 'pretty' })).toBe('pretty');
    expect(processLogger('billing', { NODE_ENV: 'production' })).toBeInstanceOf(JsonLogger);
    expect(processLogger('billing', {})).toBeInstanceOf(PrettyLogger);
  });

  it('refuses any other LOG_FORMAT, naming it', () => {
    expect(() => logFormat({ LOG_FORMAT: 'text' })).toThrow("LOG_FORMAT must be json or pretty, got 'text'");
  });
});
