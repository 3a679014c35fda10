import { writeFileSync } from 'fs';
import path from 'path';
import { CpuPerRequest, cpuTotal } from './cpu';
import { DebitFigures, Measured, ShapeComparison } from './debits.bench';
import { describeShape, LoadResult } from './load';
import { PushFigures } from './push-latency.bench';
import { ResourceFigures } from './resources.bench';
import { ShardFigures } from './shards.bench';

export interface BenchFigures {
  readonly debits?: DebitFigures;
  readonly push?: PushFigures;
  readonly resources: ResourceFigures[];
  readonly shards?: ShardFigures;
}

/** Two shards against one, each round's two-shard figures beside its own one-shard baseline. */
function shardSection(f: ShardFigures): string[] {
  const r = (a: number, b: number) => (b >= 1 ? (a / b).toFixed(2) : '-');
  const lines = [
    '## Two PostgreSQL shards against one (1,000 organizations)',
    '',
    'The engine with `SHARD_MAP=0-31=a,32-63=b` on two PostgreSQL servers the bench starts (initdb, `fsync=off`), against the same engine with every partition in shard a, same load; debits/s per shard are the debit rows committed in each shard in the measured window.',
    '',
    '| round | one shard debits/s | two shards debits/s (ratio) | shard a debits/s (ratio) | shard b debits/s (ratio) | CPU per debit, two shards / one: engine | PostgreSQL a | PostgreSQL b | both | NATS | in all |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  f.rounds.forEach(({ one, two }, i) => {
    const base = one.measured.perSecond;
    const c1 = one.measured.cpu;
    const c2 = two.measured.cpu;
    const beside = (two: number, one: number) => `${us(two)} / ${us(one)} (${r(two, one)})`;
    const cpu = c1 && c2 ? [beside(c2.server, c1.server), beside(c2.postgresByServer.a ?? 0, c1.postgresByServer.a ?? 0), beside(c2.postgresByServer.b ?? 0, c1.postgresByServer.b ?? 0), beside(c2.postgres, c1.postgres), beside(c2.nats, c1.nats), beside(cpuTotal(c2), cpuTotal(c1))] : ['-', '-', '-', '-', '-', '-'];
    lines.push(`| ${i + 1} | ${n(base)} | ${n(two.measured.perSecond)} (${r(two.measured.perSecond, base)}) | ${n(two.perShard.a ?? 0)} (${r(two.perShard.a ?? 0, base)}) | ${n(two.perShard.b ?? 0)} (${r(two.perShard.b ?? 0, base)}) | ${cpu.join(' | ')} |`);
  });
  lines.push('');
  return lines;
}

const n = (v: number) => Math.round(v).toLocaleString('en-US');
const pct = (a: LoadResult, b: LoadResult) => `${((100 * a.perSecond) / b.perSecond).toFixed(1)}%`;
const times = (a: LoadResult, b: LoadResult) => `${(a.perSecond / b.perSecond).toFixed(1)}x`;
const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');
const share = (a: LoadResult, b: LoadResult) => (a.perSecond / b.perSecond).toFixed(2);
const us = (v: number) => `${v.toFixed(0)} µs`;

/** The engine against the durable floor and the echo at 1,000 organizations, per load shape, with CPU per debit. */
function floorSection(comparisons: readonly ShapeComparison[]): string[] {
  const lines = [
    '## The engine against the durable floor (1,000 organizations)',
    '',
    'The durable floor (bench/src/floor-server.ts) appends one row per debit to a table of its own, one `INSERT ... unnest` per group commit (the engine\'s `Batcher` and limits), and replies after the commit: no rules, no events. Each shape runs the same three servers one after another.',
    '',
    '| load shape | echo/s | durable floor/s | engine debits/s | engine / floor | engine / echo | floor / echo |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const c of comparisons) {
    const floor = c.floor;
    lines.push(
      `| ${describeShape(c.shape)} | ${n(c.echo.perSecond)} | ${floor ? n(floor.perSecond) : '-'} | ${n(c.engine.perSecond)} | ${floor ? `${share(c.engine, floor)} (target 0.5: ${verdict(c.engine.perSecond >= 0.5 * floor.perSecond)})` : '-'} | ${share(c.engine, c.echo)} | ${floor ? share(floor, c.echo) : '-'} |`,
    );
  }
  lines.push('', 'CPU per request by process (PostgreSQL: the bench database\'s backends and the shared postmaster, WAL writer and checkpointer; NATS: the server on the bench\'s port):', '', '| load shape | server | server process | PostgreSQL | NATS | load generator | in all | debits per group commit |', '|---|---|---|---|---|---|---|---|');
  for (const c of comparisons) {
    const rows: [string, Measured | null][] = [['echo', c.echo], ['durable floor', c.floor], ['engine', c.engine]];
    for (const [name, m] of rows) {
      const cpu: CpuPerRequest | null = m?.cpu ?? null;
      if (cpu) lines.push(`| ${describeShape(c.shape)} | ${name} | ${us(cpu.server)} | ${us(cpu.postgres)} | ${us(cpu.nats)} | ${us(cpu.load)} | ${us(cpuTotal(cpu))} | ${m?.perCommit != null ? m.perCommit.toFixed(1) : ''} |`);
    }
  }
  lines.push('', 'Targets (issue 14): engine CPU per debit at most 30 µs, PostgreSQL 25 µs, NATS 15 µs.', '');
  return lines;
}

/** A horizontal bar chart of debits per second, each bar labelled with its ratio to the echo. */
function debitsChart(d: DebitFigures): string {
  const rows: [string, LoadResult][] = [
    ['NATS echo (trivial responder)', d.echo],
    ['engine, one hot organization', d.engineHot],
    ['engine, 1,000 organizations', d.engineMany],
    ...(d.byShape[0].floor ? [['durable floor, 1,000 organizations', d.byShape[0].floor] as [string, LoadResult]] : []),
    ['  same, synchronous_commit=off', d.engineManyAsyncCommit],
    ['baseline, one hot organization', d.baseHot],
    ['baseline, 1,000 organizations', d.baseMany],
  ];
  const max = Math.max(...rows.map(([, r]) => r.perSecond));
  const width = 760;
  const label = 250;
  const bar = 24;
  const height = rows.length * (bar + 10) + 30;
  const bars = rows
    .map(([name, r], i) => {
      const y = 20 + i * (bar + 10);
      const w = Math.max(1, ((width - label - 140) * r.perSecond) / max);
      return (
        `<text x="${label - 8}" y="${y + 16}" text-anchor="end" font-size="13">${name.trim()}</text>` +
        `<rect x="${label}" y="${y}" width="${w.toFixed(1)}" height="${bar}" fill="${name.startsWith('baseline') ? '#c0392b' : name.startsWith('NATS') || name.startsWith('durable') ? '#7f8c8d' : '#2e86de'}"/>` +
        `<text x="${label + w + 6}" y="${y + 16}" font-size="12">${n(r.perSecond)}/s (${pct(r, d.echo)} of echo)</text>`
      );
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">\n<text x="10" y="14" font-size="13" font-weight="bold">Debits per second, one run on one machine</text>\n${bars}\n</svg>\n`;
}

/** bench/report.md (and its chart), written from the figures of this run. */
export function writeReport(f: BenchFigures, machine: string): string {
  const dir = path.join(__dirname, '..', '..', '..', 'bench');
  const lines: string[] = ['# Benchmark report', '', `One run of \`npm run bench\` on ${machine}, ${new Date().toISOString()}. Every figure is measured in this run; only ratios travel between machines.`, ''];
  const d = f.debits;
  if (d) {
    writeFileSync(path.join(dir, 'report-debits.svg'), debitsChart(d));
    lines.push(
      '## Debits per second',
      '',
      `Closed-loop load, the same for every line unless it names another shape: ${describeShape(d.byShape[0].shape)}, unique idempotency keys; each server in its own process.`,
      '',
      '![debits per second](report-debits.svg)',
      '',
      '| figure | debits/s | ratio | target |',
      '|---|---|---|---|',
      `| NATS request/reply echo | ${n(d.echo.perSecond)} | 100% | |`,
      `| engine, one hot organization | ${n(d.engineHot.perSecond)} | ${pct(d.engineHot, d.echo)} of echo | 30%: ${verdict(d.engineHot.perSecond >= 0.3 * d.echo.perSecond)} |`,
      `| engine, 1,000 organizations | ${n(d.engineMany.perSecond)} | ${pct(d.engineMany, d.echo)} of echo | 50%: ${verdict(d.engineMany.perSecond >= 0.5 * d.echo.perSecond)} |`,
      `| baseline (tx + SELECT FOR UPDATE), one hot org | ${n(d.baseHot.perSecond)} | engine ${times(d.engineHot, d.baseHot)} | 5x: ${verdict(d.engineHot.perSecond >= 5 * d.baseHot.perSecond)} |`,
      `| baseline, 1,000 organizations | ${n(d.baseMany.perSecond)} | engine ${times(d.engineMany, d.baseMany)} | |`,
      '',
      '### What the crash safety costs (1,000 organizations)',
      '',
      '| variant | debits/s | the engine as shipped, as a share of this |',
      '|---|---|---|',
      `| as shipped: synchronous commit | ${n(d.engineMany.perSecond)} | 100% |`,
      `| synchronous_commit=off (a crash may lose acknowledged commits) | ${n(d.engineManyAsyncCommit.perSecond)} | ${pct(d.engineMany, d.engineManyAsyncCommit)} |`,
      '',
      ...floorSection(d.byShape),
    );
  }
  const p = f.push;
  if (p) {
    lines.push(
      '## Balance pushes to browsers',
      '',
      `${p.clients} socket.io clients over 100 organizations through the gateway; from a debit's commit (its reply) to the first push carrying it, at each client.`,
      '',
      '| scenario | engine debits/s | p50 | p99 | target p99 < 100 ms |',
      '|---|---|---|---|---|',
      `| paced: 4 changes/s per watched org, engine loaded by 1,000 other orgs | ${n(p.pacedDebitsPerSecond)} | ${p.pacedP50Ms} ms | ${p.pacedP99Ms} ms | ${verdict(p.pacedP99Ms < 100)} |`,
      `| saturated: all load on the 100 watched orgs (coalescing holds a change up to 100 ms) | ${n(p.saturatedDebitsPerSecond)} | ${p.saturatedP50Ms} ms | ${p.saturatedP99Ms} ms | ${verdict(p.saturatedP99Ms < 100)} |`,
      '',
    );
  }
  if (f.resources.length) {
    lines.push('## Running resources billed at TICK_INTERVAL_MS=60000', '', '| running resources | engine CPU (of one core) | charges/s | heap per resource | lifecycle events taken in | target |', '|---|---|---|---|---|---|');
    for (const r of f.resources) {
      lines.push(`| ${n(r.resources)} | ${(100 * r.cpuFractionOfCore).toFixed(1)}% | ${n(r.meterEntriesPerSecond)} | ${(r.heapBytesPerResource / 1024).toFixed(2)} KiB | ${n(r.ingestPerSecond)}/s | ${r.resources >= 100_000 ? `at most 50% of a core: ${verdict(r.cpuFractionOfCore <= 0.5)}` : ''} |`);
    }
    lines.push('');
  }
  if (f.shards) lines.push(...shardSection(f.shards));
  const file = path.join(dir, 'report.md');
  writeFileSync(file, lines.join('\n'));
  return file;
}
