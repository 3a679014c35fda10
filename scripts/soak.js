#!/usr/bin/env node
/**
 * `npm run soak`: the adversity test (test/adversity.e2e-spec.ts) with a fresh random seed each
 * run, one run after another, for SOAK_MINUTES (30 by default; a run started before the end is
 * finished). Prints every failing seed with the command that replays it and where its output is;
 * exits non-zero if any seed failed. ADVERSITY_OUTAGE_S is passed on (and into the replay command).
 */
const { spawn } = require('child_process');
const { randomInt } = require('crypto');
const { createWriteStream, mkdtempSync, readFileSync } = require('fs');
const { tmpdir } = require('os');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const JEST = require.resolve('jest/bin/jest', { paths: [ROOT] });
const minutes = Number(process.env.SOAK_MINUTES || 30);
if (!Number.isFinite(minutes) || minutes <= 0) {
  process.stderr.write(`SOAK_MINUTES must be a positive number of minutes, got ${process.env.SOAK_MINUTES}\n`);
  process.exit(2);
}
const deadline = Date.now() + minutes * 60_000;
const logDir = mkdtempSync(path.join(tmpdir(), 'soak-'));
const outage = process.env.ADVERSITY_OUTAGE_S ? ` ADVERSITY_OUTAGE_S=${process.env.ADVERSITY_OUTAGE_S}` : '';
const replay = (seed) => `ADVERSITY_SEEDS=${seed}${outage} npx jest test/adversity.e2e-spec.ts --runInBand`;

/** One run of the test with this seed; resolves with its exit code once it has ended. */
function run(seed, logFile) {
  return new Promise((resolve) => {
    const log = createWriteStream(logFile);
    const child = spawn(process.execPath, [JEST, 'test/adversity.e2e-spec.ts', '--runInBand', '--ci'], {
      cwd: ROOT,
      env: { ...process.env, ADVERSITY_SEEDS: String(seed) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.once('close', (code, signal) => log.end(() => resolve(code ?? (signal ? 128 : 1))));
  });
}

/** The lines of a run's output worth showing: its summary, and on failure what went wrong. */
function highlights(logFile, seed) {
  const lines = readFileSync(logFile, 'utf8').split('\n');
  const summary = lines.find((l) => l.startsWith(`adversity seed ${seed}:`));
  const failed = lines.findIndex((l) => l.startsWith(`adversity seed ${seed} FAILED`));
  return { summary, failure: failed >= 0 ? lines.slice(failed, failed + 12) : lines.filter((l) => /●|Error|expect/.test(l)).slice(0, 12) };
}

async function main() {
  process.stdout.write(`soak: the adversity test with fresh seeds for ${minutes} min; outputs in ${logDir}\n`);
  const failures = [];
  let runs = 0;
  let stop = false;
  process.once('SIGINT', () => {
    stop = true;
    process.stdout.write('soak: interrupted, finishing the current run\n');
  });
  while (!stop && Date.now() < deadline) {
    const seed = randomInt(1, 2 ** 32 - 1);
    const logFile = path.join(logDir, `seed-${seed}.log`);
    const startedMs = Date.now();
    runs++;
    process.stdout.write(`soak: run ${runs}, seed ${seed} ... `);
    const code = await run(seed, logFile);
    const seconds = Math.round((Date.now() - startedMs) / 1000);
    const { summary, failure } = highlights(logFile, seed);
    if (code === 0) {
      process.stdout.write(`ok in ${seconds} s\n`);
      continue;
    }
    failures.push({ seed, logFile });
    process.stdout.write(`FAILED in ${seconds} s (exit ${code})\n  replay: ${replay(seed)}\n  output: ${logFile}\n`);
    if (summary) process.stdout.write(`  ${summary}\n`);
    for (const line of failure) process.stdout.write(`  ${line}\n`);
  }
  process.stdout.write(`soak: ${runs} runs, ${failures.length} failed\n`);
  for (const f of failures) process.stdout.write(`  seed ${f.seed}: ${replay(f.seed)}   (output: ${f.logFile})\n`);
  process.exit(failures.length > 0 || runs === 0 ? 1 : 0);
}

main().catch((error) => {
  process.stderr.write(`soak: ${error?.stack ?? error}\n`);
  process.exit(2);
});
