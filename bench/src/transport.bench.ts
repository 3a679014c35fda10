import { NatsConnection } from 'nats';
import { cpuScope } from './cpu';
import { BenchEnv, eachShape, Measured, measure, SHAPES, withServer } from './debits.bench';
import { describeShape } from './load';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * BENCH_ONLY=transport: what serving requests the NestJS way costs (issue 14: within 5% of raw
 * subscriptions). The same trivial echo, once on a raw nats.js subscription (bench/src/echo-server)
 * and once as a `@MessagePattern` controller behind NatsJsonTransport in a Nest application
 * (bench/src/transport-echo-server), alternated `BENCH_ROUNDS` times in both load shapes: the
 * requests per second of each, and the server's CPU per request. A trivial handler shows the
 * transport's cost at its largest; in the engine it is the same few microseconds per request.
 */
export async function benchTransport(ncs: NatsConnection[], env: BenchEnv, tag: string): Promise<void> {
  const scope = cpuScope(env);
  const servers = [
    { name: 'raw subscription', script: 'bench/src/echo-server.js' },
    { name: 'NestJS (NatsJsonTransport)', script: 'bench/src/transport-echo-server.js' },
  ];
  const results = servers.map(() => SHAPES.map(() => [] as Measured[]));
  process.stdout.write(`\nthe same echo, raw and through NestJS, alternated ${ROUNDS} times\n`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, server] of servers.entries()) {
      const prefix = `bt${tag}${round}${i}`;
      const measured = await withServer(server.script, { ...env, SUBJECT_PREFIX: prefix }, (child) => eachShape(SHAPES, (shape) => measure(server.name, ncs, shape, prefix, [`hot-${tag}`], { child, scope })));
      measured.forEach((m, s) => results[i][s].push(m));
    }
  }
  for (const [s, shape] of SHAPES.entries()) {
    const [raw, nest] = results.map((byShape) => byShape[s]);
    const rate = (ms: Measured[]) => median(ms.map((m) => m.perSecond));
    const serverCpu = (ms: Measured[]) => median(ms.map((m) => m.cpu?.server ?? NaN));
    process.stdout.write(`\n  ${describeShape(shape)}, medians of ${ROUNDS}\n`);
    process.stdout.write(`    raw   ${rate(raw).toFixed(0).padStart(8)} /s, server CPU ${serverCpu(raw).toFixed(1)} µs per request\n`);
    process.stdout.write(`    NestJS${rate(nest).toFixed(0).padStart(8)} /s, server CPU ${serverCpu(nest).toFixed(1)} µs per request\n`);
    process.stdout.write(`    NestJS / raw: rate ${(rate(nest) / rate(raw)).toFixed(2)}, server CPU +${(serverCpu(nest) - serverCpu(raw)).toFixed(1)} µs per request\n`);
  }
}
