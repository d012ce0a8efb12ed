/**
 * `node dist/fuzz.js [--count N] [--seed S]`: the long run of the web path's fuzzer (bench/fuzz.ts) against a
 * daemon it starts on the sample feed; prints the counts and exits 1 on any failure. Default 100,000 inputs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { answerFifos } from '../src/daemon/fifo.js';
import { startRoq, stopRoq } from './daemon.js';
import { fuzzWebPath } from './fuzz.js';

const { values } = parseArgs({ options: { count: { type: 'string' }, seed: { type: 'string' } } });
const count = Number(values.count ?? 100_000);
const seed = Number(values.seed ?? 20261123);
const root = resolve(__dirname, '..');
const roq = join(root, 'dist/roq.js');
const run = mkdtempSync(join(tmpdir(), 'roq-fuzz-'));

async function main(): Promise<number> {
  startRoq(roq, run, ['--data', join(root, 'data/gtfs-lirr'), '--workers', '2', '--access-log', 'off']);
  try {
    const t0 = Date.now();
    const r = await fuzzWebPath(run, count, seed);
    const left = answerFifos(run);
    console.log(
      `fuzz: ${r.count} inputs (seed ${seed}) in ${((Date.now() - t0) / 1000).toFixed(1)} s; statuses ${JSON.stringify(r.statuses)}; slowest ${r.maxMs.toFixed(1)} ms; RSS growth ${r.rssGrowthMb.toFixed(1)} MB; answer FIFOs left ${left.length}; failures ${r.failures.length}`,
    );
    for (const f of r.failures) console.log(`  ${f}`);
    return r.failures.length === 0 && left.length === 0 && r.count === count ? 0 : 1;
  } finally {
    stopRoq(roq, run);
    rmSync(run, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
